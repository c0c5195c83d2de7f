"""A run's events as an SSE response body, and the headers that go with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from kithost.observability import metrics
from kithost.runs.live import LiveRun
from kithost.runs.manager import RunManager
from kithost.runs.model import RunRecord

RUN_ID_HEADER = "X-Kithost-Run-Id"
DETACH_HEADER = "X-Kithost-Detach"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    # Tell nginx and similar proxies not to buffer the stream.
    "X-Accel-Buffering": "no",
}


def wants_detach(header: str | None, policy: str) -> bool:
    """``X-Kithost-Detach: true`` opts in; ``KITHOST_RUNS_DETACH=always`` opts everyone in
    (a client may still say ``false``)."""
    value = (header or "").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    return policy == "always"


async def run_events(
    runs: RunManager,
    run: RunRecord,
    after: int,
    *,
    numbered: bool,
    stop_when_abandoned: LiveRun | None = None,
) -> AsyncIterator[bytes]:
    """The run's SSE events after ``after``; with ``numbered``, each carries ``id: <seq>``.

    ``stop_when_abandoned``: the connection is the run's Stop button — closing it before the
    run ends stops the run, as a ChatKit client without detach expects.
    """
    ended = False
    metrics.ACTIVE_STREAMS.inc()
    try:
        async for seq, event in runs.follow(run, after):
            yield b"id: %d\n%b" % (seq, event) if numbered else event
        ended = True
    finally:
        metrics.ACTIVE_STREAMS.dec()
        if stop_when_abandoned is not None and not ended:
            stop_when_abandoned.stop()
