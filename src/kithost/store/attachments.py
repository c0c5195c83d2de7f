"""Attachment metadata rows. Bytes live in blob storage under ``storage_key``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.store.tables import attachments
from kithost.store.upsert import upsert


@dataclass(frozen=True)
class AttachmentRecord:
    id: str
    user: str
    name: str
    mime_type: str
    data: dict[str, Any]
    session_id: str | None = None
    thread_id: str | None = None
    size: int | None = None
    storage_key: str | None = None
    uploaded: bool = False


class AttachmentRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def save(self, record: AttachmentRecord) -> None:
        """Insert, or update the row with this id (its owner and session never change)."""
        values = {
            "id": record.id,
            "user_id": record.user,
            "session_id": record.session_id,
            "thread_id": record.thread_id,
            "name": record.name,
            "mime_type": record.mime_type,
            "size": record.size,
            "storage_key": record.storage_key,
            "uploaded": record.uploaded,
            "data": record.data,
            "created_at": time.time(),
        }
        mutable = ("thread_id", "name", "data", "size", "storage_key", "uploaded")
        async with self._engine.begin() as conn:
            await upsert(conn, attachments, values, key=["id"], update=mutable)

    async def update_metadata(
        self, attachment_id: str, name: str, data: dict[str, Any], thread_id: str | None
    ) -> None:
        """Replace the ChatKit metadata, binding to ``thread_id`` if given (never unbinding).

        The owner, the session and the upload state (size, storage key) stay as they are.
        """
        values: dict[str, Any] = {"name": name, "data": data}
        if thread_id is not None:
            values["thread_id"] = thread_id
        async with self._engine.begin() as conn:
            await conn.execute(
                update(attachments).where(attachments.c.id == attachment_id).values(**values)
            )

    async def get(self, attachment_id: str) -> AttachmentRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(attachments).where(attachments.c.id == attachment_id))
            ).first()
        return _record(row) if row else None

    async def delete(self, attachment_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(attachments).where(attachments.c.id == attachment_id))


def _record(row: Row[Any]) -> AttachmentRecord:
    return AttachmentRecord(
        id=row.id,
        user=row.user_id,
        name=row.name,
        mime_type=row.mime_type,
        data=row.data,
        session_id=row.session_id,
        thread_id=row.thread_id,
        size=row.size,
        storage_key=row.storage_key,
        uploaded=row.uploaded,
    )
