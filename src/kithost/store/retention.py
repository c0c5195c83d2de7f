"""Retention's SQL: which threads have outlived their retention, the sweep's lock, the purge
of sessions long expired, and of refusal counts older than the Overview shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, false, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.store.tables import rate_limit_refusals, sessions, threads
from kithost.store.thread_removal import Removed, no_live_run, remove_threads

BATCH = 100  # threads per transaction
SESSION_BATCH = 500
DAY = 86400.0
# pg_try_advisory_lock's key for the sweep: any constant no other lock in kithost uses.
_PG_LOCK_KEY = 0x6B69745265746E  # "kitRetn"


@dataclass(frozen=True)
class ExpiredSession:
    id: str
    max_requests_per_1_minute: int


def expired_threads(
    now: float, default_days: int, per_workflow: Mapping[str, int]
) -> ColumnElement[bool]:
    """Threads whose last activity is older than their workflow's retention (0: keep)."""
    clauses = [
        (threads.c.workflow_id == workflow_id) & (threads.c.updated_at < now - days * DAY)
        for workflow_id, days in per_workflow.items()
        if days > 0
    ]
    if default_days > 0:
        others: ColumnElement[bool] = threads.c.workflow_id.is_(None)
        if per_workflow:
            others = others | threads.c.workflow_id.not_in(list(per_workflow))
        else:
            others = others | threads.c.workflow_id.is_not(None)
        clauses.append(others & (threads.c.updated_at < now - default_days * DAY))
    return or_(*clauses) if clauses else false()


class RetentionRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    @asynccontextmanager
    async def sweep_lock(self) -> AsyncIterator[bool]:
        """Whether this process may sweep now. On PostgreSQL, one process at a time holds an
        advisory lock and the others skip this round; SQLite serves one process, and its
        writes are serialized anyway (the batches count only what each removed)."""
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        async with self._engine.connect() as conn:
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            ).scalar()
            await conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                    await conn.commit()

    async def remove_expired_threads(self, expired: ColumnElement[bool]) -> Removed:
        """Remove one batch of expired threads (none left: nothing removed)."""
        async with self._engine.connect() as conn:
            query = select(threads.c.id).where(expired, no_live_run()).limit(BATCH)
            ids = list((await conn.execute(query)).scalars())
        if not ids:
            return Removed()
        async with self._engine.begin() as conn:
            return await remove_threads(conn, threads.c.id.in_(ids) & expired & no_live_run())

    async def purge_sessions(self, before: float) -> tuple[list[ExpiredSession], int]:
        """Delete one batch of sessions that expired or were cancelled before ``before``: the
        batch (for their rate-limit keys) and how many this process deleted."""
        gone = or_(sessions.c.expires_at < before, sessions.c.cancelled_at < before)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(sessions.c.id, sessions.c.max_requests_per_1_minute)
                    .where(gone)
                    .limit(SESSION_BATCH)
                )
            ).all()
        if not rows:
            return [], 0
        ids = [row.id for row in rows]
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.id.in_(ids), gone))
        batch = [ExpiredSession(row.id, row.max_requests_per_1_minute) for row in rows]
        return batch, int(result.rowcount)

    async def drop_refusals_before(self, before: float) -> int:
        """Delete the per-minute refusal counts older than ``before`` (the Overview shows
        30 days at most); how many rows went."""
        minute = int(before // 60)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(rate_limit_refusals).where(rate_limit_refusals.c.minute < minute)
            )
        return int(result.rowcount)
