"""Bulk reads and writes for ``kithost import``: many rows per query or transaction.

Every insert keeps the row already there (``ON CONFLICT DO NOTHING``): importing twice changes
nothing. Rows are inserted in the order given, so rows with equal times keep that order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.store.tables import thread_items, threads
from kithost.store.upsert import insert_once

T = TypeVar("T")
CHUNK = 500  # ids per IN (…) list


class ImportRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def thread_owners(self, thread_ids: Sequence[str]) -> dict[str, str]:
        """The owner (user) of each of these threads that exists, by thread id."""
        owners: dict[str, str] = {}
        async with self._engine.connect() as conn:
            for chunk in _chunks(thread_ids):
                rows = await conn.execute(
                    select(threads.c.id, threads.c.user_id).where(threads.c.id.in_(chunk))
                )
                owners.update({row.id: row.user_id for row in rows})
        return owners

    async def add_threads(self, records: Sequence[ThreadRecord]) -> int:
        """Insert the threads whose id is new, in one transaction; how many were."""
        now = time.time()
        added = 0
        async with self._engine.begin() as conn:
            for record in records:
                if await insert_once(conn, threads, _thread_values(record, now), key=["id"]):
                    added += 1
        return added

    async def existing_items(self, thread_id: str, item_ids: Sequence[str]) -> set[str]:
        """Which of ``item_ids`` the thread already holds."""
        found: set[str] = set()
        async with self._engine.connect() as conn:
            for chunk in _chunks(item_ids):
                rows = await conn.execute(
                    select(thread_items.c.id).where(
                        thread_items.c.thread_id == thread_id, thread_items.c.id.in_(chunk)
                    )
                )
                found.update(rows.scalars())
        return found

    async def add_items(self, records: Sequence[ItemRecord]) -> list[bool]:
        """Insert, in one transaction, each item whose id is new (in any thread).

        Returns, per record, whether it was inserted. The threads that got items are touched
        (``updated_at``), as ``ThreadRepository.add_item`` does.
        """
        inserted: list[bool] = []
        async with self._engine.begin() as conn:
            for record in records:
                inserted.append(
                    await insert_once(conn, thread_items, _item_values(record), key=["id"])
                )
            touched = {r.thread_id for r, new in zip(records, inserted, strict=True) if new}
            if touched:
                await conn.execute(
                    update(threads).where(threads.c.id.in_(touched)).values(updated_at=time.time())
                )
        return inserted


def _chunks[T](values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _thread_values(record: ThreadRecord, now: float) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": record.user,
        "session_id": record.session_id,
        "workflow_id": record.workflow_id,
        "title": record.title,
        "status": record.status,
        "status_reason": record.status_reason,
        "allowed_image_domains": record.allowed_image_domains,
        "metadata": record.metadata,
        "created_at": record.created_at,
        "updated_at": now,
    }


def _item_values(record: ItemRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "thread_id": record.thread_id,
        "type": record.type,
        "data": record.data,
        "created_at": record.created_at,
    }
