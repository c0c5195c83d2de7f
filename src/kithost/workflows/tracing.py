"""Trace spans of workflow runs, kept in kithost's own database and never sent to OpenAI.

The Agents SDK reports spans to its processors; kithost installs its own processor in place of
the default exporter. Spans are collected on the turn that made them (the turn runtime is in a
context variable) and written when the turn ends — only when the session has tracing enabled.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from agents.tracing import (
    ResponseSpanData,
    Span,
    Trace,
    TracingProcessor,
    set_trace_processors,
    set_tracing_disabled,
)

from kithost.core.traces import SpanRecord
from kithost.workflows.redaction import redact_data
from kithost.workflows.runtime import TurnRuntime, optional_runtime


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _json_safe(value: Any) -> Any:
    """Span payloads hold SDK objects; keep what JSON can say."""
    return json.loads(json.dumps(value, default=str))


def _response_output(span_data: ResponseSpanData) -> dict[str, Any]:
    """What a Responses call answered, as a Chat Completions ``generation`` span records it
    (the SDK's export keeps only the response id): so the console can show, for one, what a
    structured agent decided. The SDK keeps the response only when sensitive data is allowed."""
    response = span_data.response
    if response is None:
        return {}
    output = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
    return {"model": response.model, "output": _json_safe(output)}


def span_record(span: Span[Any], runtime: TurnRuntime) -> SpanRecord:
    data = _json_safe(span.span_data.export())
    if isinstance(span.span_data, ResponseSpanData):
        data.update(_response_output(span.span_data))
    session = runtime.turn.context.session
    name = data.get("name") or data.get("model") or data.get("type")
    return SpanRecord(
        span_id=span.span_id,
        trace_id=span.trace_id,
        parent_id=span.parent_id,
        thread_id=runtime.turn.thread.id,
        session_id=session.id,
        workflow_id=session.workflow.id,
        kind=str(data.get("type", "custom")),
        name=str(name) if name is not None else None,
        started_at=_timestamp(span.started_at),
        ended_at=_timestamp(span.ended_at),
        data=data,
        # The SDK quotes exceptions here, and some quote a hosted tool's configuration.
        error=redact_data(_json_safe(span.error)) if span.error else None,
    )


class KithostTraceProcessor(TracingProcessor):
    """Collects finished spans on their turn; drops those of turns with tracing off."""

    def __init__(self) -> None:
        # The SDK's traces carry no times; kept here so the trace has a duration like its spans.
        self._started: dict[str, float] = {}

    def on_trace_start(self, trace: Trace) -> None:
        self._started[trace.trace_id] = time.time()

    def on_trace_end(self, trace: Trace) -> None:
        started_at = self._started.pop(trace.trace_id, None)
        runtime = optional_runtime()
        if runtime is None or not runtime.tracing_enabled:
            return
        exported = trace.export() or {}
        runtime.spans.append(
            SpanRecord(
                span_id=trace.trace_id,
                trace_id=trace.trace_id,
                parent_id=None,
                thread_id=runtime.turn.thread.id,
                session_id=runtime.turn.context.session.id,
                workflow_id=runtime.turn.context.session.workflow.id,
                kind="trace",
                name=trace.name,
                started_at=started_at,
                ended_at=time.time() if started_at is not None else None,
                data=_json_safe(exported),
            )
        )

    def on_span_start(self, span: Span[Any]) -> None:
        pass

    def on_span_end(self, span: Span[Any]) -> None:
        runtime = optional_runtime()
        if runtime is not None and runtime.tracing_enabled:
            runtime.spans.append(span_record(span, runtime))

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def install_trace_processor() -> None:
    """Replace the SDK's processors (its default exports to OpenAI) with kithost's.

    Tracing is then switched on for the process even when ``OPENAI_AGENTS_DISABLE_TRACING`` is
    set (the usual advice to keep the SDK from exporting to OpenAI): nothing is exported any
    more, and each session's ``workflow.tracing.enabled`` decides what is recorded.
    """
    set_trace_processors([KithostTraceProcessor()])
    set_tracing_disabled(False)
