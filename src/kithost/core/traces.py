"""Recorded spans of a workflow run, and their REST rendering (an extension)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SpanRecord:
    span_id: str
    trace_id: str
    parent_id: str | None
    thread_id: str
    session_id: str
    workflow_id: str
    kind: str
    name: str | None
    started_at: float | None
    ended_at: float | None
    data: dict[str, Any]
    error: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        duration = None
        if self.started_at is not None and self.ended_at is not None:
            duration = round((self.ended_at - self.started_at) * 1000, 3)
        return {
            "id": self.span_id,
            "object": "chatkit.trace.span",
            "parent_id": self.parent_id,
            "type": self.kind,
            "name": self.name,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_ms": duration,
            "data": self.data,
            "error": self.error,
        }


def traces_to_wire(spans: list[SpanRecord]) -> dict[str, Any]:
    """Group spans by trace, in the order they were recorded."""
    traces: dict[str, dict[str, Any]] = {}
    for span in spans:
        trace = traces.setdefault(
            span.trace_id,
            {
                "id": span.trace_id,
                "object": "chatkit.trace",
                "thread_id": span.thread_id,
                "session_id": span.session_id,
                "workflow_id": span.workflow_id,
                "spans": [],
            },
        )
        trace["spans"].append(span.to_wire())
    data = list(traces.values())
    return {"object": "list", "data": data, "has_more": False}
