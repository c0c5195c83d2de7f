"""A user's rows, for an export, and their removal, for an erasure ("data rights")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.store.tables import (
    attachments,
    item_feedback,
    runs,
    sessions,
    thread_items,
    threads,
)
from kithost.store.thread_removal import Removed, remove_runs, remove_threads

# Never exported: a session's secret is only ever stored as this hash, and it stays here.
_SESSION_SECRET_COLUMNS = {"secret_hash"}
_NOT_EXPORTED = {"seq"}


class UserDataRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def rows(self, user: str) -> dict[str, list[dict[str, Any]]]:
        """Every row of the user: sessions (no secret hash), threads, their items and
        feedback, attachments (``storage_key`` says where the bytes are) and runs."""
        async with self._engine.connect() as conn:
            thread_ids = select(threads.c.id).where(threads.c.user_id == user)
            return {
                "sessions": await _rows(
                    conn, sessions, sessions.c.user_id == user, _SESSION_SECRET_COLUMNS
                ),
                "threads": await _rows(conn, threads, threads.c.user_id == user),
                "items": await _rows(conn, thread_items, thread_items.c.thread_id.in_(thread_ids)),
                "feedback": await _rows(
                    conn, item_feedback, item_feedback.c.thread_id.in_(thread_ids)
                ),
                "attachments": await _rows(
                    conn,
                    attachments,
                    (attachments.c.user_id == user) | attachments.c.thread_id.in_(thread_ids),
                ),
                "runs": await _rows(conn, runs, runs.c.user_id == user),
            }

    async def session_limits(self, user: str) -> list[tuple[str, int]]:
        """The user's sessions and their per-minute limits (which name their rate-limit keys)."""
        query = select(sessions.c.id, sessions.c.max_requests_per_1_minute).where(
            sessions.c.user_id == user
        )
        async with self._engine.connect() as conn:
            return [(row.id, row.max_requests_per_1_minute) for row in await conn.execute(query)]

    async def remove(self, user: str) -> Removed:
        """Delete everything of the user in one transaction (blobs and Redis journals are the
        caller's, from the result)."""
        async with self._engine.begin() as conn:
            removed = await remove_threads(conn, threads.c.user_id == user)
            loose = attachments.c.user_id == user  # uploaded, never attached to a thread
            keys = await conn.execute(select(attachments.c.storage_key).where(loose))
            removed.storage_keys += [key for key in keys.scalars() if key]
            removed.attachments += int(
                (await conn.execute(delete(attachments).where(loose))).rowcount
            )
            run_ids = (
                await conn.execute(select(runs.c.id).where(runs.c.user_id == user))
            ).scalars()
            removed.add(await remove_runs(conn, list(run_ids)))
            result = await conn.execute(delete(sessions).where(sessions.c.user_id == user))
            removed.sessions = int(result.rowcount)
        return removed


async def _rows(
    conn: AsyncConnection, table: Table, where: Any, hidden: set[str] = _NOT_EXPORTED
) -> list[dict[str, Any]]:
    leave_out = hidden | _NOT_EXPORTED
    columns = [column for column in table.c if column.name not in leave_out]
    order = table.c.seq if "seq" in table.c else table.c.created_at
    result = await conn.execute(select(*columns).where(where).order_by(order))
    return [dict(row._mapping) for row in result]
