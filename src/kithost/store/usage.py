"""The Overview's numbers, counted in SQL per bucket (SQLite and PostgreSQL), and rate-limit
refusals added per minute (counted in memory first: observability/refusal_tally.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.core.usage_report import UsageCounts, Window
from kithost.store.tables import rate_limit_refusals, run_usage, runs, thread_items, threads

# Percentiles are computed from the values; past this many runs in a range, the newest count.
MAX_LATENCY_VALUES = 100_000
RANKED = 50  # workflows and users listed for the drill-down


class UsageRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add_refusals(self, counts: dict[tuple[int, str, str], int]) -> None:
        """Add refusals counted per (minute, limit, workflow): one upsert per row, one
        transaction."""
        async with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for (minute, limit_name, workflow_id), count in counts.items():
                statement = dialect.insert(rate_limit_refusals).values(
                    minute=minute, limit_name=limit_name, workflow_id=workflow_id, count=count
                )
                statement = statement.on_conflict_do_update(
                    index_elements=["minute", "limit_name", "workflow_id"],
                    set_={"count": rate_limit_refusals.c["count"] + statement.excluded["count"]},
                )
                await conn.execute(statement)

    async def counts(self, win: Window, workflow_id: str | None, user: str | None) -> UsageCounts:
        async with self._engine.connect() as conn:
            counter = _Counter(conn, win)
            counted = UsageCounts()
            await counter.threads(counted, workflow_id, user)
            await counter.messages(counted, workflow_id, user)
            await counter.runs(counted, workflow_id, user)
            await counter.tokens(counted, workflow_id, user)
            await counter.rankings(counted, workflow_id, user)
            if user is None:
                await counter.refusals(counted, workflow_id)
            else:
                counted.refusals = None
            return counted


class _Counter:
    def __init__(self, conn: AsyncConnection, win: Window):
        self._conn = conn
        self._win = win

    def bucket(self, moment: ColumnElement[Any]) -> ColumnElement[int]:
        """The bucket index of a time at or after the window's start."""
        offset = (moment - self._win.start) / self._win.bucket_seconds
        if self._conn.dialect.name == "postgresql":  # a cast rounds there; floor it
            return cast(func.floor(offset), Integer)
        return cast(offset, Integer)  # SQLite truncates, which is floor for offsets >= 0

    async def _pairs(self, query: Any) -> dict[int, int]:
        return {int(b): int(n) for b, n in (await self._conn.execute(query)).all()}

    async def threads(
        self, counted: UsageCounts, workflow_id: str | None, user: str | None
    ) -> None:
        bucket = self.bucket(threads.c.created_at).label("bucket")
        query = select(bucket, func.count()).where(threads.c.created_at >= self._win.start)
        query = _filtered(query, threads.c.workflow_id, workflow_id, threads.c.user_id, user)
        counted.conversations = await self._pairs(query.group_by(bucket))

    async def messages(
        self, counted: UsageCounts, workflow_id: str | None, user: str | None
    ) -> None:
        bucket = self.bucket(thread_items.c.created_at).label("bucket")
        joined = thread_items.join(threads, threads.c.id == thread_items.c.thread_id)
        where = [
            thread_items.c.type == "user_message",
            thread_items.c.created_at >= self._win.start,
        ]
        query = select(bucket, func.count(), func.count(threads.c.user_id.distinct()))
        query = _filtered(
            query.select_from(joined).where(*where),
            threads.c.workflow_id,
            workflow_id,
            threads.c.user_id,
            user,
        )
        for b, messages, users in (await self._conn.execute(query.group_by(bucket))).all():
            counted.messages[int(b)] = int(messages)
            counted.active_users[int(b)] = int(users)
        total = _filtered(
            select(func.count(threads.c.user_id.distinct())).select_from(joined).where(*where),
            threads.c.workflow_id,
            workflow_id,
            threads.c.user_id,
            user,
        )
        counted.active_users_total = int((await self._conn.execute(total)).scalar() or 0)

    def _runs_query(self, query: Any, workflow_id: str | None, user: str | None) -> Any:
        query = query.where(runs.c.created_at >= self._win.start, runs.c.status != "in_progress")
        return _filtered(query, runs.c.workflow_id, workflow_id, runs.c.user_id, user)

    async def runs(self, counted: UsageCounts, workflow_id: str | None, user: str | None) -> None:
        bucket = self.bucket(runs.c.created_at).label("bucket")
        query = self._runs_query(select(bucket, runs.c.status, func.count()), workflow_id, user)
        for b, status, n in (await self._conn.execute(query.group_by(bucket, runs.c.status))).all():
            counted.runs[int(b)] = counted.runs.get(int(b), 0) + int(n)
            if status == "failed":
                counted.failed_runs[int(b)] = int(n)
        latency = self._runs_query(
            select(bucket, runs.c.first_token_seconds), workflow_id, user
        ).where(runs.c.first_token_seconds.is_not(None))
        latency = latency.order_by(runs.c.created_at.desc()).limit(MAX_LATENCY_VALUES)
        for b, seconds in (await self._conn.execute(latency)).all():
            counted.first_token_seconds.setdefault(int(b), []).append(float(seconds))

    async def tokens(self, counted: UsageCounts, workflow_id: str | None, user: str | None) -> None:
        bucket = self.bucket(runs.c.created_at).label("bucket")
        query = select(
            bucket,
            runs.c.workflow_id,
            run_usage.c.model,
            func.sum(run_usage.c.requests),
            func.sum(run_usage.c.input_tokens),
            func.sum(run_usage.c.output_tokens),
        ).select_from(run_usage.join(runs, runs.c.id == run_usage.c.run_id))
        query = self._runs_query(query, workflow_id, user)
        query = query.group_by(bucket, runs.c.workflow_id, run_usage.c.model)
        for b, workflow, model, requests, spent_in, spent_out in (
            await self._conn.execute(query)
        ).all():
            per_bucket = counted.tokens.setdefault((workflow, model), {})
            per_bucket[int(b)] = (int(requests), int(spent_in), int(spent_out))

    async def refusals(self, counted: UsageCounts, workflow_id: str | None) -> None:
        at = rate_limit_refusals.c.minute * 60
        bucket = self.bucket(at).label("bucket")
        query = select(bucket, func.sum(rate_limit_refusals.c["count"])).where(
            at >= self._win.start
        )
        if workflow_id is not None:
            query = query.where(rate_limit_refusals.c.workflow_id == workflow_id)
        counted.refusals = await self._pairs(query.group_by(bucket))

    async def rankings(
        self, counted: UsageCounts, workflow_id: str | None, user: str | None
    ) -> None:
        """The workflows and users with the most runs in the range, for the drill-down."""
        # Each list ignores its own filter, so the drill-down can switch to another one.
        for column, into, workflow, who in (
            (runs.c.workflow_id, "workflows", None, user),
            (runs.c.user_id, "users", workflow_id, None),
        ):
            runs_count = func.count().label("runs")
            query = self._runs_query(select(column, runs_count), workflow, who)
            query = query.group_by(column).order_by(runs_count.desc(), column).limit(RANKED)
            rows = [(str(name), int(n)) for name, n in (await self._conn.execute(query)).all()]
            setattr(counted, into, rows)


def _filtered(
    query: Any,
    workflow_column: Any,
    workflow_id: str | None,
    user_column: Any,
    user: str | None,
) -> Any:
    if workflow_id is not None:
        query = query.where(workflow_column == workflow_id)
    if user is not None:
        query = query.where(user_column == user)
    return query
