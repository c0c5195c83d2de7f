"""Admin API keys made by ``kithost keys create`` (or on first start); only digests are kept."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.secrets import hash_secret, key_hint, new_api_key
from kithost.store.database import single_statements
from kithost.store.tables import api_keys

# Every control-plane request with a stored key runs it: built once.
_ACTIVE_BY_HASH = select(api_keys).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    hint: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._single = single_statements(engine)

    async def create(self, name: str) -> tuple[ApiKeyRecord, str]:
        """Make a key; the plain key is returned once and never stored."""
        key = new_api_key()
        record = ApiKeyRecord(
            id=f"key_{secrets.token_hex(12)}",
            name=name,
            hint=key_hint(key),
            created_at=time.time(),
            revoked_at=None,
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=record.id,
                    name=record.name,
                    key_hash=hash_secret(key),
                    hint=record.hint,
                    created_at=record.created_at,
                )
            )
        return record, key

    async def list(self) -> list[ApiKeyRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [_record(row) for row in rows]

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False when there is no such active key."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return result.rowcount > 0

    async def find_active(self, key_hash: str) -> ApiKeyRecord | None:
        async with self._single.connect() as conn:
            row = (await conn.execute(_ACTIVE_BY_HASH, {"key_hash": key_hash})).first()
        return _record(row) if row else None

    async def count_active(self) -> int:
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
            )
        return int(count or 0)


def _record(row: Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        hint=row.hint,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
