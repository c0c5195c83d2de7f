"""Fresh databases for tests: an SQLite file, or a new database on the local PostgreSQL.

Every storage test runs on both. PostgreSQL is this machine's server (trust auth); it is
required, never skipped: set KITHOST_TEST_POSTGRES_URL to point elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ADMIN_DSN = os.environ.get(
    "KITHOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def admin_sql(statement: str) -> None:
    """Run one statement on the PostgreSQL server as its administrator."""

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    """Yield the SQLAlchemy URL of an empty database, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'kithost-{secrets.token_hex(4)}.db'}"
        return
    name = f"kithost_test_{secrets.token_hex(6)}"
    admin_sql(f'CREATE DATABASE "{name}"')
    host_part = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{host_part}/{name}"
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
