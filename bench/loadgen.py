"""A closed-loop load generator on asyncio, bounded in requests and in time.

``concurrency`` workers, each with its own keep-alive connection, send a request, read its whole
answer, and send the next, until the deadline or the request budget is reached, whichever comes
first. A warm-up (connections opened, caches and pools filled) runs the same loop unrecorded.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from bench.procs import cpu_seconds
from bench.rawhttp import Connection, ProtocolError
from bench.stats import median, percentile


@dataclass
class RunResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: int = 0
    elapsed: float = 0.0
    first_error: str | None = None
    server_cpu: float = math.nan  # CPU seconds the server process used during the run

    @property
    def cpu_per_request_us(self) -> float:
        """Server CPU per answered request, in µs: the cost that load on the machine hides
        least (a busy neighbour makes requests wait, not cost more)."""
        count = len(self.latencies) + self.errors
        return self.server_cpu / count * 1e6 if count else math.nan

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    def p(self, q: float) -> float:
        """The q-th percentile latency in milliseconds."""
        return percentile(self.latencies, q) * 1000


class Load:
    """One request, sent over and over by ``concurrency`` workers to 127.0.0.1:``port``."""

    def __init__(self, port: int, raw: bytes, concurrency: int, pid: int | None = None) -> None:
        self.raw = raw
        self.pid = pid
        self.concurrency = concurrency
        self.connections = [Connection(port) for _ in range(concurrency)]

    async def run(self, duration: float, max_requests: int) -> RunResult:
        result = RunResult()
        budget = max_requests
        cpu_before = cpu_seconds(self.pid) if self.pid else math.nan
        started = time.perf_counter()
        deadline = started + duration

        async def worker(connection: Connection) -> None:
            nonlocal budget
            while budget > 0 and time.perf_counter() < deadline:
                budget -= 1
                sent = time.perf_counter()
                try:
                    response = await connection.request(self.raw)
                except (OSError, ProtocolError, asyncio.IncompleteReadError) as error:
                    await connection.close()
                    result.errors += 1
                    result.first_error = result.first_error or repr(error)
                    continue
                if 200 <= response.status < 300:
                    result.latencies.append(time.perf_counter() - sent)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or (
                        f"HTTP {response.status}: {response.body[:200]!r}"
                    )

        await asyncio.gather(*(worker(connection) for connection in self.connections))
        result.elapsed = time.perf_counter() - started
        if self.pid:
            result.server_cpu = cpu_seconds(self.pid) - cpu_before
        return result

    async def measure(self, duration: float, max_requests: int, warmup: float = 0.25) -> RunResult:
        """Warm up unrecorded for ``warmup`` seconds, then run the recorded loop."""
        if warmup > 0:
            await self.run(warmup, max_requests)
        return await self.run(duration, max_requests)

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass
class Summary:
    """Medians over runs of throughput and latency percentiles."""

    runs: int
    throughput: float
    p50: float  # ms
    p99: float  # ms
    errors: int
    first_error: str | None
    cpu_us: float  # server CPU per request, µs

    @classmethod
    def of(cls, results: list[RunResult]) -> Summary:
        return cls(
            runs=len(results),
            throughput=median([r.throughput for r in results]),
            p50=median([r.p(50) for r in results]),
            p99=median([r.p(99) for r in results]),
            errors=sum(r.errors for r in results),
            first_error=next((r.first_error for r in results if r.first_error), None),
            cpu_us=median([r.cpu_per_request_us for r in results]),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "throughput": self.throughput,
            "p50_ms": self.p50,
            "p99_ms": self.p99,
            "errors": self.errors,
            "first_error": self.first_error,
            "server_cpu_us_per_request": self.cpu_us,
        }


async def interleaved(
    loads: dict[str, Load], reps: int, duration: float, max_requests: int
) -> dict[str, Summary]:
    """Run every load ``reps`` times, taking turns (in a rotating order), so that a noisy
    moment of the machine hits each of them alike; the medians of each."""
    results: dict[str, list[RunResult]] = {name: [] for name in loads}
    names = list(loads)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            results[name].append(await loads[name].measure(duration, max_requests))
    return {name: Summary.of(runs) for name, runs in results.items()}
