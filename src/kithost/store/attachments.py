"""Attachment metadata rows. Bytes live in blob storage under ``storage_key``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Row, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.attachments import AttachmentRecord
from kithost.store.tables import attachments, threads
from kithost.store.upsert import upsert

__all__ = ["AttachmentRecord", "AttachmentRepository"]

IN_LIST_SIZE = 500  # ids per IN (…) list


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
        self,
        attachment_id: str,
        name: str,
        data: dict[str, Any],
        thread_id: str | None,
        *,
        owner: str | None = None,
    ) -> bool:
        """Replace the ChatKit metadata, binding to ``thread_id`` if given (never unbinding);
        True if the row was updated.

        The owner, the session and the upload state (size, storage key) stay as they are.
        ``owner``: only that user's attachment, bound only to a thread of theirs that exists
        (checked in this one statement).
        """
        values: dict[str, Any] = {"name": name, "data": data}
        if thread_id is not None:
            values["thread_id"] = thread_id
        statement = update(attachments).where(attachments.c.id == attachment_id)
        if owner is not None:
            statement = statement.where(attachments.c.user_id == owner)
            if thread_id is not None:
                statement = statement.where(
                    exists().where(threads.c.id == thread_id, threads.c.user_id == owner)
                )
        async with self._engine.begin() as conn:
            result = await conn.execute(statement.values(**values))
        return bool(result.rowcount)

    async def get(self, attachment_id: str) -> AttachmentRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(attachments).where(attachments.c.id == attachment_id))
            ).first()
        return _record(row) if row else None

    async def get_many(self, attachment_ids: list[str]) -> dict[str, AttachmentRecord]:
        """The rows among ``attachment_ids`` that exist, by id, on one connection."""
        found: dict[str, AttachmentRecord] = {}
        async with self._engine.connect() as conn:
            # In slices: one IN list of any length would pass PostgreSQL's bind-parameter limit.
            for start in range(0, len(attachment_ids), IN_LIST_SIZE):
                chunk = attachment_ids[start : start + IN_LIST_SIZE]
                rows = await conn.execute(select(attachments).where(attachments.c.id.in_(chunk)))
                found.update((row.id, _record(row)) for row in rows)
        return found

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
