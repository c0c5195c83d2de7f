"""Every Prometheus metric kithost exports, and the one-line hooks its call sites use.

Labels are bounded: routes are templates (``/v1/chatkit/threads/{thread_id}``), workflows and
models come from the operator's configuration, outcomes from fixed lists; never a user, session,
thread or run id. Under ``kithost serve --workers N`` each process writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (set by serve before the workers start) and ``/metrics`` sums them.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a fast API call to a long streamed answer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
UNMATCHED_ROUTE = "unmatched"  # a 404 for a path no route knows: one series, not one per path

HTTP_REQUESTS = Counter(
    "kithost_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "kithost_http_request_duration_seconds",
    "Time from a request's arrival to its response's end (a stream's whole length).",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
SESSIONS_CREATED = Counter(
    "kithost_sessions_created_total", "ChatKit sessions created.", ["workflow"]
)
SESSIONS_CANCELLED = Counter("kithost_sessions_cancelled_total", "ChatKit sessions cancelled.")
RATE_LIMIT_REFUSALS = Counter(
    "kithost_rate_limit_refusals_total",
    "Requests refused (429) by a rate limit: `session` (max_requests_per_1_minute) or "
    "`server_turns` (KITHOST_SERVER_TURNS_PER_MINUTE).",
    ["limit"],
)
RUNS = Counter(
    "kithost_runs_total",
    "Runs (streamed turns) ended, by workflow and outcome "
    "(completed, failed, cancelled, interrupted).",
    ["workflow", "outcome"],
)
RUN_DURATION = Histogram(
    "kithost_run_duration_seconds",
    "A run's length, from its start to its end.",
    ["workflow", "outcome"],
    buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "kithost_run_time_to_first_token_seconds",
    "From a run's start to its first text delta.",
    ["workflow"],
    buckets=TTFT_BUCKETS,
)
MODEL_CALLS = Counter("kithost_model_calls_total", "Model calls completed.", ["workflow", "model"])
MODEL_INPUT_TOKENS = Counter(
    "kithost_model_input_tokens_total", "Input tokens the model reported.", ["workflow", "model"]
)
MODEL_OUTPUT_TOKENS = Counter(
    "kithost_model_output_tokens_total", "Output tokens the model reported.", ["workflow", "model"]
)
MODEL_ERRORS = Counter(
    "kithost_model_errors_total",
    "Runs that failed on a model call (the provider refused, timed out or was unreachable).",
    ["workflow", "model"],
)
ACTIVE_STREAMS = Gauge(
    "kithost_active_streams",
    "Event streams (SSE responses) open right now.",
    multiprocess_mode="livesum",
)
UPLOAD_BYTES = Counter(
    "kithost_upload_bytes_total",
    "Bytes of files received: `chatkit` (conversation attachments) or `files` (/v1/files).",
    ["api"],
)
DATABASE_POOL_IN_USE = Gauge(
    "kithost_database_connections_in_use",
    "Database connections checked out of the pool right now.",
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "kithost_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome: `delivered`, `retrying` (failed, will retry) or "
    "`failed` (no attempts left).",
    ["outcome"],
)


# hooks (one call at each site)


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route, str(status)).observe(seconds)


def session_created(workflow: str) -> None:
    SESSIONS_CREATED.labels(workflow).inc()


def session_cancelled() -> None:
    SESSIONS_CANCELLED.inc()


def rate_limited(scope: str) -> None:
    """``scope``: the rate limiter's kind of counter (``session``, ``API key``)."""
    RATE_LIMIT_REFUSALS.labels("session" if scope == "session" else "server_turns").inc()


def run_ended(workflow: str, outcome: str, seconds: float) -> None:
    RUNS.labels(workflow, outcome).inc()
    RUN_DURATION.labels(workflow, outcome).observe(seconds)


def first_token(workflow: str, seconds: float) -> None:
    TIME_TO_FIRST_TOKEN.labels(workflow).observe(seconds)


def model_call(workflow: str, model: str, input_tokens: int, output_tokens: int) -> None:
    MODEL_CALLS.labels(workflow, model).inc()
    MODEL_INPUT_TOKENS.labels(workflow, model).inc(input_tokens)
    MODEL_OUTPUT_TOKENS.labels(workflow, model).inc(output_tokens)


def model_error(workflow: str, model: str) -> None:
    MODEL_ERRORS.labels(workflow, model).inc()


def uploaded(api: str, size: int) -> None:
    UPLOAD_BYTES.labels(api).inc(size)


def webhook_delivery(status: str) -> None:
    """``status``: the attempt's outcome (``delivered``, ``pending`` to retry, ``failed``)."""
    WEBHOOK_DELIVERIES.labels("retrying" if status == "pending" else status).inc()


def watch_pool(engine: AsyncEngine) -> None:
    """Count the engine's checked-out connections (pool events; gauges cannot read on scrape
    across processes)."""
    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", lambda *_: DATABASE_POOL_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: DATABASE_POOL_IN_USE.dec())


# exposition


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type: this process's, or every worker's summed."""
    registry: Any = REGISTRY
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
