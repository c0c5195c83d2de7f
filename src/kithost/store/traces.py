"""Trace spans as rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.traces import SpanRecord
from kithost.store.tables import trace_spans


class TraceRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        if not spans:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(trace_spans),
                [
                    {
                        "span_id": s.span_id,
                        "trace_id": s.trace_id,
                        "parent_id": s.parent_id,
                        "thread_id": s.thread_id,
                        "session_id": s.session_id,
                        "workflow_id": s.workflow_id,
                        "kind": s.kind,
                        "name": s.name,
                        "started_at": s.started_at,
                        "ended_at": s.ended_at,
                        "data": s.data,
                        "error": s.error,
                    }
                    for s in spans
                ],
            )

    async def for_thread(self, thread_id: str) -> list[SpanRecord]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(trace_spans)
                    .where(trace_spans.c.thread_id == thread_id)
                    .order_by(trace_spans.c.seq)
                )
            ).all()
        return [_span(row) for row in rows]

    async def delete_thread(self, thread_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(trace_spans).where(trace_spans.c.thread_id == thread_id))


def _span(row: Row[Any]) -> SpanRecord:
    return SpanRecord(
        span_id=row.span_id,
        trace_id=row.trace_id,
        parent_id=row.parent_id,
        thread_id=row.thread_id,
        session_id=row.session_id,
        workflow_id=row.workflow_id,
        kind=row.kind,
        name=row.name,
        started_at=row.started_at,
        ended_at=row.ended_at,
        data=row.data,
        error=row.error,
    )
