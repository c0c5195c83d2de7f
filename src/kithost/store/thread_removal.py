"""Deleting threads in batches, with everything that hangs off them, for retention and erasure.

ThreadRepository.delete_thread removes one thread; these remove many in one transaction per
batch and count what went, for a receipt or a log line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kithost.store.tables import (
    attachments,
    item_feedback,
    run_events,
    runs,
    thread_items,
    threads,
    trace_spans,
)


@dataclass
class Removed:
    """What a removal deleted; the blobs (``storage_keys``) and Redis journals (``run_ids``)
    are the caller's to remove once the transaction has committed."""

    threads: int = 0
    items: int = 0
    feedback: int = 0
    trace_spans: int = 0
    attachments: int = 0
    runs: int = 0
    sessions: int = 0
    storage_keys: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def add(self, other: Removed) -> None:
        for name in ("threads", "items", "feedback", "trace_spans", "attachments", "runs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sessions += other.sessions
        self.storage_keys += other.storage_keys
        self.run_ids += other.run_ids

    def counts(self) -> dict[str, int]:
        return {
            "sessions": self.sessions,
            "threads": self.threads,
            "items": self.items,
            "feedback": self.feedback,
            "trace_spans": self.trace_spans,
            "attachments": self.attachments,
            "attachment_files": len(self.storage_keys),
            "runs": self.runs,
        }


def no_live_run() -> ColumnElement[bool]:
    """The thread has no run in progress (a long answer keeps its thread)."""
    return ~exists().where(runs.c.thread_id == threads.c.id, runs.c.status == "in_progress")


async def remove_threads(conn: AsyncConnection, which: ColumnElement[bool]) -> Removed:
    """Delete the threads matching ``which`` with their items, feedback, spans, attachments,
    runs and database journals, inside the caller's transaction.

    The first statement is a write: it locks the rows on PostgreSQL (a thread touched meanwhile
    waits, then is judged again) and takes SQLite's write lock before anything is read, so
    that two processes removing the same threads each count only what they removed.
    """
    await conn.execute(update(threads).where(which).values(updated_at=threads.c.updated_at))
    ids = list((await conn.execute(select(threads.c.id).where(which))).scalars())
    removed = Removed()
    if not ids:
        return removed
    keys = await conn.execute(
        select(attachments.c.storage_key).where(attachments.c.thread_id.in_(ids))
    )
    removed.storage_keys = [key for key in keys.scalars() if key]
    removed.attachments = await _delete(conn, attachments, attachments.c.thread_id.in_(ids))
    removed.feedback = await _delete(conn, item_feedback, item_feedback.c.thread_id.in_(ids))
    removed.trace_spans = await _delete(conn, trace_spans, trace_spans.c.thread_id.in_(ids))
    removed.items = await _delete(conn, thread_items, thread_items.c.thread_id.in_(ids))
    run_ids = list(
        (await conn.execute(select(runs.c.id).where(runs.c.thread_id.in_(ids)))).scalars()
    )
    removed.add(await remove_runs(conn, run_ids))
    removed.threads = await _delete(conn, threads, threads.c.id.in_(ids))
    return removed


async def remove_runs(conn: AsyncConnection, run_ids: Sequence[str]) -> Removed:
    removed = Removed(run_ids=list(run_ids))
    if run_ids:
        await _delete(conn, run_events, run_events.c.run_id.in_(run_ids))
        removed.runs = await _delete(conn, runs, runs.c.id.in_(run_ids))
    return removed


async def _delete(conn: AsyncConnection, table: Any, where: ColumnElement[bool]) -> int:
    return int((await conn.execute(delete(table).where(where))).rowcount)
