"""Threads and their items: every query the REST view and the ChatKit store need."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.pagination import ListParams, Page
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.core.webhook_events import thread_created
from kithost.store.pagination import paginate
from kithost.store.tables import (
    attachments,
    item_feedback,
    thread_items,
    threads,
    trace_spans,
)
from kithost.store.upsert import insert_once, upsert
from kithost.store.webhook_outbox import enqueue

IN_LIST_SIZE = 500  # ids per IN (…) list


class ThreadRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    # threads

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(threads).where(threads.c.id == thread_id))).first()
        return _thread(row) if row else None

    async def save_thread(self, thread: ThreadRecord, *, new: bool = False) -> None:
        """Insert the thread, or update its title, status and metadata (never its owner).

        ``new``: the caller is creating it; the ``thread.created`` webhook deliveries are
        written with it (once, should the same thread be saved as new twice).
        """
        now = time.time()
        values = {
            "id": thread.id,
            "user_id": thread.user,
            "session_id": thread.session_id,
            "workflow_id": thread.workflow_id,
            "title": thread.title,
            "status": thread.status,
            "status_reason": thread.status_reason,
            "allowed_image_domains": thread.allowed_image_domains,
            "metadata": thread.metadata,
            "created_at": thread.created_at,
            "updated_at": now,
        }
        mutable = ("title", "status", "status_reason", "allowed_image_domains", "metadata")
        async with self._engine.begin() as conn:
            if new and await insert_once(conn, threads, values, key=["id"]):
                created = thread_created(thread.to_extended_wire(), now)
                await enqueue(conn, [created])
                return
            await upsert(conn, threads, values, key=["id"], update=(*mutable, "updated_at"))

    async def list_threads(
        self, params: ListParams, user: str | None = None, workflow_id: str | None = None
    ) -> Page[ThreadRecord]:
        scope = select(threads)
        if user is not None:
            scope = scope.where(threads.c.user_id == user)
        if workflow_id is not None:
            scope = scope.where(threads.c.workflow_id == workflow_id)
        async with self._engine.connect() as conn:
            page = await paginate(conn, threads, scope, params)
        return Page(data=[_thread(row) for row in page.data], has_more=page.has_more)

    async def delete_thread(self, thread_id: str) -> list[str] | None:
        """Delete a thread, its items and its attachments' rows.

        Returns the storage keys of the deleted attachments (their bytes are the caller's to
        remove), or None when there was no such thread.
        """
        async with self._engine.begin() as conn:
            keys = (
                await conn.execute(
                    select(attachments.c.storage_key).where(attachments.c.thread_id == thread_id)
                )
            ).scalars()
            storage_keys = [key for key in keys if key]
            await conn.execute(delete(attachments).where(attachments.c.thread_id == thread_id))
            # Items go explicitly too: SQLite enforces ON DELETE CASCADE only per connection.
            await conn.execute(delete(item_feedback).where(item_feedback.c.thread_id == thread_id))
            await conn.execute(delete(trace_spans).where(trace_spans.c.thread_id == thread_id))
            await conn.execute(delete(thread_items).where(thread_items.c.thread_id == thread_id))
            result = await conn.execute(delete(threads).where(threads.c.id == thread_id))
        return storage_keys if result.rowcount else None

    # items

    async def list_items(
        self, thread_id: str, params: ListParams, types: Iterable[str] | None = None
    ) -> Page[ItemRecord]:
        scope = select(thread_items).where(thread_items.c.thread_id == thread_id)
        if types is not None:
            scope = scope.where(thread_items.c.type.in_(list(types)))
        async with self._engine.connect() as conn:
            page = await paginate(conn, thread_items, scope, params)
        return Page(data=[_item(row) for row in page.data], has_more=page.has_more)

    async def get_item(self, thread_id: str, item_id: str) -> ItemRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(thread_items).where(
                        thread_items.c.thread_id == thread_id, thread_items.c.id == item_id
                    )
                )
            ).first()
        return _item(row) if row else None

    async def add_item(self, item: ItemRecord) -> bool:
        """Insert an item unless one with its id exists (the SDK re-adds items); True if new."""
        async with self._engine.begin() as conn:
            inserted = await insert_once(conn, thread_items, _item_values(item), key=["id"])
            if inserted:
                await _touch(conn, item.thread_id)
        return inserted

    async def save_item(self, item: ItemRecord) -> None:
        """Insert or replace an item's content, keeping its place in the thread.

        Only an item of ``item.thread_id`` is replaced: ids are unique across threads, and an
        item of another thread (perhaps another user's) with this id is left alone.
        """
        async with self._engine.begin() as conn:
            await upsert(
                conn,
                thread_items,
                _item_values(item),
                key=["id"],
                update=("data", "type"),
                guard=("thread_id",),
            )
            await _touch(conn, item.thread_id)

    async def record_feedback(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        """Keep the latest verdict per item; ids not in this thread are ignored."""
        async with self._engine.begin() as conn:
            known: set[str] = set()
            # In slices: one IN list of any length would pass PostgreSQL's bind-parameter limit.
            for start in range(0, len(item_ids), IN_LIST_SIZE):
                rows = await conn.execute(
                    select(thread_items.c.id).where(
                        thread_items.c.thread_id == thread_id,
                        thread_items.c.id.in_(item_ids[start : start + IN_LIST_SIZE]),
                    )
                )
                known.update(rows.scalars())
            for item_id in sorted(known):
                values = {
                    "item_id": item_id,
                    "thread_id": thread_id,
                    "kind": kind,
                    "created_at": time.time(),
                }
                await upsert(
                    conn, item_feedback, values, key=["item_id"], update=("kind", "created_at")
                )

    async def feedback(self, thread_id: str) -> dict[str, str]:
        """The verdicts given on a thread's items, by item id."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(item_feedback.c.item_id, item_feedback.c.kind).where(
                    item_feedback.c.thread_id == thread_id
                )
            )
            return {row.item_id: row.kind for row in rows}

    async def delete_item(self, thread_id: str, item_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(item_feedback).where(
                    item_feedback.c.thread_id == thread_id, item_feedback.c.item_id == item_id
                )
            )
            await conn.execute(
                delete(thread_items).where(
                    thread_items.c.thread_id == thread_id, thread_items.c.id == item_id
                )
            )


async def _touch(conn: Any, thread_id: str) -> None:
    await conn.execute(
        update(threads).where(threads.c.id == thread_id).values(updated_at=time.time())
    )


def _item_values(item: ItemRecord) -> dict[str, Any]:
    return {
        "id": item.id,
        "thread_id": item.thread_id,
        "type": item.type,
        "data": item.data,
        "created_at": item.created_at,
    }


def _thread(row: Row[Any]) -> ThreadRecord:
    return ThreadRecord(
        id=row.id,
        user=row.user_id,
        created_at=row.created_at,
        title=row.title,
        status=row.status,
        status_reason=row.status_reason,
        session_id=row.session_id,
        workflow_id=row.workflow_id,
        metadata=row._mapping["metadata"] or {},
        allowed_image_domains=row.allowed_image_domains,
    )


def _item(row: Row[Any]) -> ItemRecord:
    return ItemRecord(
        id=row.id, thread_id=row.thread_id, type=row.type, created_at=row.created_at, data=row.data
    )
