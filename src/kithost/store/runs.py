"""Runs' rows, and the journal kept on the database when there is no Redis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.core.pagination import ListParams, Page
from kithost.core.run_usage import RunUsage
from kithost.core.webhook_events import run_ended
from kithost.runs.model import RunRecord
from kithost.store.pagination import paginate
from kithost.store.tables import run_events, run_usage, runs
from kithost.store.webhook_outbox import enqueue


async def _without_waiting_for_disk(conn: AsyncConnection) -> None:
    """On PostgreSQL, commit runs' rows and events without waiting for the WAL flush.

    A run's row and journal are working state (the thread's items, committed as usual, are the
    record); a PostgreSQL crash could lose their last few hundred milliseconds, and the runs
    of a crashed database are interrupted anyway. The answer's first token no longer waits
    for an fsync (BENCHMARKS.md, "The cost of durable runs").
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


async def _waiting_for_disk(conn: AsyncConnection) -> None:
    """Undo ``_without_waiting_for_disk`` for this transaction: it carries a webhook delivery,
    which must survive a crash like any record."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL synchronous_commit TO ON"))


class ThreadBusy(Exception):
    """The thread already has a run in progress (the partial unique index said so)."""


class RunRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def insert(self, run: RunRecord) -> None:
        values = {
            "id": run.id,
            "thread_id": run.thread_id,
            "session_id": run.session_id,
            "user_id": run.user,
            "workflow_id": run.workflow_id,
            "workflow_version": run.workflow_version,
            "request_type": run.request_type,
            "status": run.status,
            "created_at": run.created_at,
            "last_event_id": 0,
            "owner": run.owner,
            "lease_expires_at": run.lease_expires_at,
        }
        try:
            async with self._engine.begin() as conn:
                await _without_waiting_for_disk(conn)
                await conn.execute(insert(runs).values(**values))
        except IntegrityError:
            raise ThreadBusy(run.thread_id) from None

    async def get(self, run_id: str) -> RunRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).first()
        return _run(row) if row else None

    async def in_progress_on(self, thread_id: str) -> RunRecord | None:
        query = select(runs).where(runs.c.thread_id == thread_id, runs.c.status == "in_progress")
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row) if row else None

    async def list_for_thread(self, thread_id: str, params: ListParams) -> Page[RunRecord]:
        async with self._engine.connect() as conn:
            page = await paginate(
                conn, runs, select(runs).where(runs.c.thread_id == thread_id), params
            )
        return Page(data=[_run(row) for row in page.data], has_more=page.has_more)

    async def finish(
        self,
        run_id: str,
        owner: str,
        status: str,
        last_event_id: int,
        now: float,
        usage: RunUsage | None = None,
    ) -> bool:
        """End a run this owner holds; False when another process has taken it over.

        The run's usage (tokens per model, time to first token) and the ``run.<status>``
        webhook deliveries are written in the same transaction.
        """
        query = (
            update(runs)
            .where(runs.c.id == run_id, runs.c.owner == owner, runs.c.status == "in_progress")
            .values(
                status=status,
                last_event_id=last_event_id,
                ended_at=now,
                owner=None,
                lease_expires_at=None,
                first_token_seconds=usage.first_token_seconds if usage else None,
            )
            .returning(*runs.c)
        )
        async with self._engine.begin() as conn:
            await _without_waiting_for_disk(conn)
            row = (await conn.execute(query)).first()
            if row is None:
                return False
            if usage is not None and usage.models:
                await conn.execute(
                    insert(run_usage),
                    [
                        {
                            "run_id": run_id,
                            "model": model[:200],
                            "requests": spent.requests,
                            "input_tokens": spent.input_tokens,
                            "output_tokens": spent.output_tokens,
                        }
                        for model, spent in usage.models.items()
                    ],
                )
            if await enqueue(conn, [run_ended(_run(row).to_wire(), now)]):
                await _waiting_for_disk(conn)
            return True

    async def renew(self, owner: str, lease_expires_at: float) -> list[str]:
        """Extend this owner's leases; return its runs that someone asked to cancel."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(runs)
                .where(runs.c.owner == owner, runs.c.status == "in_progress")
                .values(lease_expires_at=lease_expires_at)
            )
            rows = await conn.execute(
                select(runs.c.id).where(
                    runs.c.owner == owner,
                    runs.c.status == "in_progress",
                    runs.c.cancel_requested_at.is_not(None),
                )
            )
            return list(rows.scalars())

    async def request_cancel(self, run_id: str, now: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(runs)
                .where(
                    runs.c.id == run_id,
                    runs.c.status == "in_progress",
                    runs.c.cancel_requested_at.is_(None),
                )
                .values(cancel_requested_at=now)
            )

    async def lapsed(self, now: float, limit: int = 100) -> list[RunRecord]:
        query = (
            select(runs)
            .where(runs.c.status == "in_progress", runs.c.lease_expires_at < now)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [_run(row) for row in (await conn.execute(query)).all()]

    async def take_over(
        self,
        run_id: str,
        previous_owner: str | None,
        owner: str,
        lease_expires_at: float,
        lapsed_before: float | None,
    ) -> bool:
        """Claim a run still held by ``previous_owner``, so that exactly one process
        interrupts it: one known dead (``lapsed_before`` None), or whose lease lapsed."""
        query = (
            update(runs)
            .where(
                runs.c.id == run_id,
                runs.c.status == "in_progress",
                runs.c.owner == previous_owner,
            )
            .values(owner=owner, lease_expires_at=lease_expires_at)
        )
        if lapsed_before is not None:
            query = query.where(runs.c.lease_expires_at < lapsed_before)
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def ended_between(self, start: float, end: float) -> list[str]:
        query = select(runs.c.id).where(runs.c.ended_at >= start, runs.c.ended_at < end)
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())


class SqlJournal:
    """Run events as rows; wake-ups come from ``signals`` (NOTIFY, or this process)."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def append(self, events: Sequence[tuple[str, int, bytes]]) -> None:
        if not events:
            return
        rows = [{"run_id": run, "seq": seq, "data": data} for run, seq, data in events]
        async with self._engine.begin() as conn:
            await _without_waiting_for_disk(conn)
            await conn.execute(insert(run_events), rows)

    async def read(self, run_id: str, after: int, limit: int = 1000) -> list[tuple[int, bytes]]:
        query = (
            select(run_events.c.seq, run_events.c.data)
            .where(run_events.c.run_id == run_id, run_events.c.seq > after)
            .order_by(run_events.c.seq)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(int(seq), bytes(data)) for seq, data in (await conn.execute(query)).all()]

    async def forget(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(delete(run_events).where(run_events.c.run_id.in_(run_ids)))

    async def close(self) -> None:
        return None


def _run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        thread_id=row.thread_id,
        session_id=row.session_id,
        user=row.user_id,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        request_type=row.request_type,
        status=row.status,
        created_at=float(row.created_at),
        ended_at=float(row.ended_at) if row.ended_at is not None else None,
        last_event_id=int(row.last_event_id),
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        cancel_requested_at=row.cancel_requested_at,
    )
