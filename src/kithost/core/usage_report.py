"""The Overview's report: a range cut into buckets, and the series built from per-bucket counts.

The store counts per bucket index (0 = the oldest bucket); this module chooses the buckets and
turns the counts into aligned series, rates and percentiles. Buckets are UTC hours (24 h) or UTC
days (7 d, 30 d); the newest bucket is the current, partial one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kithost.core.errors import InvalidRequest

HOUR = 3600
DAY = 86400
RANGES: dict[str, tuple[int, int]] = {"24h": (HOUR, 24), "7d": (DAY, 7), "30d": (DAY, 30)}


@dataclass(frozen=True)
class Window:
    name: str
    bucket_seconds: int
    buckets: int
    start: float
    end: float

    @property
    def starts(self) -> list[int]:
        return [int(self.start) + i * self.bucket_seconds for i in range(self.buckets)]


def window(name: str, now: float) -> Window:
    if name not in RANGES:
        raise InvalidRequest(
            f"Invalid 'range': {name!r}; expected one of {', '.join(RANGES)}.",
            param="range",
            code="invalid_range",
        )
    size, count = RANGES[name]
    current = math.floor(now / size) * size
    return Window(name, size, count, float(current - (count - 1) * size), now)


@dataclass
class UsageCounts:
    """What the store counted, keyed by bucket index."""

    conversations: dict[int, int] = field(default_factory=dict)
    messages: dict[int, int] = field(default_factory=dict)
    active_users: dict[int, int] = field(default_factory=dict)
    active_users_total: int = 0
    runs: dict[int, int] = field(default_factory=dict)
    failed_runs: dict[int, int] = field(default_factory=dict)
    first_token_seconds: dict[int, list[float]] = field(default_factory=dict)
    # (workflow, model) -> bucket -> (requests, input tokens, output tokens)
    tokens: dict[tuple[str, str], dict[int, tuple[int, int, int]]] = field(default_factory=dict)
    refusals: dict[int, int] | None = field(default_factory=dict)
    """None when refusals cannot be told apart for the filter (they are not kept per user)."""
    workflows: list[tuple[str, int]] = field(default_factory=list)
    users: list[tuple[str, int]] = field(default_factory=list)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


def _series(counts: dict[int, int], buckets: int) -> list[int]:
    return [int(counts.get(i, 0)) for i in range(buckets)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rate(failed: int, total: int) -> float | None:
    return round(failed / total, 4) if total else None


def report(
    win: Window, counts: UsageCounts, workflow_id: str | None, user: str | None
) -> dict[str, Any]:
    """The ``chatkit.usage`` object (docs/api.md)."""
    n = win.buckets
    runs = _series(counts.runs, n)
    failed = _series(counts.failed_runs, n)
    ttft = {i: sorted(values) for i, values in counts.first_token_seconds.items()}
    every_ttft = sorted(v for values in ttft.values() for v in values)
    tokens = []
    for (workflow, model), per_bucket in sorted(counts.tokens.items()):
        input_series = [per_bucket.get(i, (0, 0, 0))[1] for i in range(n)]
        output_series = [per_bucket.get(i, (0, 0, 0))[2] for i in range(n)]
        tokens.append(
            {
                "workflow_id": workflow,
                "model": model,
                "requests": sum(spent[0] for spent in per_bucket.values()),
                "input_tokens": sum(input_series),
                "output_tokens": sum(output_series),
                "input_tokens_series": input_series,
                "output_tokens_series": output_series,
            }
        )
    refusals = None if counts.refusals is None else _series(counts.refusals, n)
    return {
        "object": "chatkit.usage",
        "range": win.name,
        "bucket_seconds": win.bucket_seconds,
        "start": int(win.start),
        "end": int(win.end),
        "workflow_id": workflow_id,
        "user": user,
        "buckets": win.starts,
        "conversations": _series(counts.conversations, n),
        "messages": _series(counts.messages, n),
        "active_users": _series(counts.active_users, n),
        "runs": runs,
        "failed_runs": failed,
        "error_rate": [_rate(f, t) for f, t in zip(failed, runs, strict=True)],
        "time_to_first_token": {
            "p50": [_rounded(percentile(ttft.get(i, []), 0.5)) for i in range(n)],
            "p95": [_rounded(percentile(ttft.get(i, []), 0.95)) for i in range(n)],
        },
        "tokens": tokens,
        "refusals": refusals,
        "totals": {
            "conversations": sum(counts.conversations.values()),
            "messages": sum(counts.messages.values()),
            "active_users": counts.active_users_total,
            "runs": sum(runs),
            "failed_runs": sum(failed),
            "error_rate": _rate(sum(failed), sum(runs)),
            "input_tokens": sum(entry["input_tokens"] for entry in tokens),
            "output_tokens": sum(entry["output_tokens"] for entry in tokens),
            "time_to_first_token_p50": _rounded(percentile(every_ttft, 0.5)),
            "time_to_first_token_p95": _rounded(percentile(every_ttft, 0.95)),
            "refusals": None if refusals is None else sum(refusals),
        },
        "workflows": _ranking("workflow_id", counts.workflows),
        "users": _ranking("user", counts.users),
    }


def _ranking(key: str, rows: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{key: name, "runs": runs} for name, runs in rows]
