"""Seed threads and items straight through kithost's storage layer (no HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from kithost.core import ids
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.store.database import create_engine
from kithost.store.threads import ThreadRepository


def seed(database_url: str, threads: Sequence[tuple[ThreadRecord, Sequence[ItemRecord]]]) -> None:
    """Write the given threads and their items into the database at ``database_url``."""

    async def run() -> None:
        engine = create_engine(database_url)
        repo = ThreadRepository(engine)
        try:
            for thread, items in threads:
                await repo.save_thread(thread)
                for item in items:
                    await repo.add_item(item)
        finally:
            await engine.dispose()

    asyncio.run(run())


def make_thread(user: str, created_at: float | None = None, **fields: Any) -> ThreadRecord:
    return ThreadRecord(
        id=fields.pop("id", None) or ids.thread_id(),
        user=user,
        created_at=time.time() if created_at is None else created_at,
        **fields,
    )


def user_message(thread_id: str, text: str, created_at: float, **extra: Any) -> ItemRecord:
    item_id = extra.pop("id", None) or ids.item_id()
    data = {
        "id": item_id,
        "thread_id": thread_id,
        "type": "user_message",
        "created_at": created_at,
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
        **extra,
    }
    return ItemRecord(item_id, thread_id, "user_message", created_at, data)


def protocol_item(thread_id: str, kind: str, created_at: float, **fields: Any) -> ItemRecord:
    """Any ChatKit protocol item, given its type-specific fields."""
    item_id = fields.pop("id", None) or ids.item_id()
    data = {"id": item_id, "thread_id": thread_id, "type": kind, "created_at": created_at}
    data.update(fields)
    return ItemRecord(item_id, thread_id, kind, created_at, data)
