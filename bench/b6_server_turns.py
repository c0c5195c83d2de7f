"""B6: server-side turns and webhooks (issue 16), on the model-free ``wf_kithost_echo``.

- A turn's latency, admin key: ``POST /v1/chatkit/threads`` with ``wait: true`` (to its 201,
  the run ended), against the same turn through the ChatKit protocol (``sessions.create``,
  timed apart, then the ``threads.create`` stream read to its end), and the default mode (201
  once the user's message is saved); p50/p95 at c=1 and c=4, the modes taking turns round by
  round.
- Webhook lag: a receiver in this process (raw asyncio HTTP, answering 204) subscribed to
  ``run.completed``; for each ``wait: true`` turn, from its 201 (the run had ended) to the
  delivery's arrival. Turns spaced by a random pause (any phase of the dispatcher's poll), then
  a burst at c=4.
- The outbox's cost: ``wait: true`` turns with 0 endpoints against 5 endpoints subscribed to
  every event (10 delivery rows written per turn, in the run's transactions), the 5 enabled and
  disabled round by round on the same server.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import procs
from bench.plan import Context, Outcome
from bench.stats import percentile
from bench.table import INFO, Row, ms, times
from bench.wire import client_headers, create_session, threads_create

WORKFLOW = "wf_kithost_echo"
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
CONCURRENCY = (1, 4)
WAIT, DEFAULT, PROTOCOL, SESSION = "wait", "default", "protocol", "session"
ALL_EVENTS = ["thread.created", "run.completed", "run.failed", "run.cancelled", "run.interrupted"]
OUTBOX_ENDPOINTS = 5
BURST = 20
LAG_PATH = "/lag"
LAG_TIMEOUT_SECONDS = 120.0
TEXT = "Where is my parcel today?"


class Receiver:
    """A webhook receiver: answers every POST with 204 and notes when each run's
    ``run.completed`` arrived (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.deliveries = 0
        self._server: asyncio.Server | None = None
        self.port = 0
        self._waiters: dict[str, asyncio.Future[float]] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def arrival(self, run_id: str) -> float:
        """When ``run_id``'s ``run.completed`` arrived, waiting for it if need be."""
        if run_id in self.arrivals:
            return self.arrivals[run_id]
        waiter = self._waiters.setdefault(run_id, asyncio.get_running_loop().create_future())
        return await waiter

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.perf_counter()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.deliveries += 1
                self._note(head, body, arrived)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _note(self, head: bytes, body: bytes, arrived: float) -> None:
        if not head.startswith(b"POST " + LAG_PATH.encode()):
            return
        event = json.loads(body)
        if event.get("type") != "run.completed":
            return
        run_id = event["data"]["id"]
        self.arrivals[run_id] = arrived
        waiter = self._waiters.pop(run_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(arrived)


@dataclass
class Backend:
    """What one database's server measured, in ms."""

    latency: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # c → mode → ms
    lag_spaced: list[float] = field(default_factory=list)
    lag_burst: list[float] = field(default_factory=list)
    outbox: dict[int, list[float]] = field(default_factory=dict)  # endpoints → ms
    failures: int = 0


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B6")
    receiver = Receiver()
    await receiver.start()
    results: dict[str, Backend] = {}
    try:
        for backend in BACKENDS:
            async with AsyncExitStack() as stack:
                server = await stack.enter_async_context(
                    procs.kithost(backend, ctx.workdir, {}, "b6")
                )
                limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
                http = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits)
                )
                results[backend] = await _measure(http, receiver, ctx)
    finally:
        await receiver.stop()
    outcome.raw = {name: result.__dict__ for name, result in results.items()}
    outcome.raw["receiver_deliveries"] = receiver.deliveries
    for backend, label in BACKENDS.items():
        outcome.rows += _rows(label, results[backend])
    return outcome


async def _measure(http: httpx.AsyncClient, receiver: Receiver, ctx: Context) -> Backend:
    result = Backend()
    turns, reps = ctx.plan.turns, ctx.plan.reps
    modes: dict[str, Callable[[int], Awaitable[dict[str, float]]]] = {
        WAIT: lambda n: _rest_turn(http, n, wait=True),
        DEFAULT: lambda n: _rest_turn(http, n, wait=False),
        PROTOCOL: lambda n: _protocol_turn(http, n),
    }
    names = list(modes)
    for c in CONCURRENCY:
        result.latency[c] = {name: [] for name in (*names, SESSION)}
        for rep in range(reps + 1):  # the first round warms up and is not recorded
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                timings, failed = await _batch(modes[name], turns, c)
                result.failures += failed
                if rep > 0:
                    for timing in timings:
                        for key, value in timing.items():
                            result.latency[c][key].append(value)
        await asyncio.sleep(0.5)  # the last default-mode runs end

    lag = await _endpoint(http, receiver.url(LAG_PATH), ["run.completed"])
    rng = random.Random(16)  # noqa: S311 - pauses, not secrets
    for n in range(2 * turns):
        await asyncio.sleep(rng.uniform(0, 1.0))  # any phase of the dispatcher's poll
        answered, run_id = await _wait_turn(http, n)
        result.lag_spaced.append(await _lag(receiver, run_id, answered))
    four = asyncio.Semaphore(4)
    burst = await asyncio.gather(*(_burst_turn(http, n, receiver, four) for n in range(BURST)))
    result.lag_burst = sorted(burst)
    await _set_enabled(http, [lag], enabled=False)

    endpoints = [
        await _endpoint(http, receiver.url(f"/outbox/{i}"), ALL_EVENTS, enabled=False)
        for i in range(OUTBOX_ENDPOINTS)
    ]
    result.outbox = {0: [], OUTBOX_ENDPOINTS: []}
    for round_ in range(2 * reps + 2):  # the first two warm up
        subscribed = OUTBOX_ENDPOINTS if round_ % 2 else 0
        await _set_enabled(http, endpoints, enabled=bool(subscribed))
        timings, failed = await _batch(modes[WAIT], turns, 1)
        result.failures += failed
        if round_ >= 2:
            result.outbox[subscribed] += [timing[WAIT] for timing in timings]
    await _set_enabled(http, endpoints, enabled=False)
    return result


async def _batch(
    turn: Callable[[int], Awaitable[dict[str, float]]], count: int, concurrency: int
) -> tuple[list[dict[str, float]], int]:
    """``count`` turns, ``concurrency`` at a time; their timings and how many failed."""
    pending = iter(range(count))
    timings: list[dict[str, float]] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for n in pending:
            try:
                timings.append(await turn(n))
            except (httpx.HTTPError, RuntimeError) as error:
                print(f"[bench] B6: {error}", file=sys.stderr, flush=True)
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return timings, failures


def _turn_body(n: int, *, wait: bool) -> dict[str, Any]:
    return {
        "user": f"bench_user_{n % 8}",
        "workflow": {"id": WORKFLOW},
        "input": {"content": [{"type": "input_text", "text": f"{TEXT} ({n})"}]},
        "wait": wait,
    }


async def _rest_turn(http: httpx.AsyncClient, n: int, *, wait: bool) -> dict[str, float]:
    timing, _ = await _timed_post(http, n, wait=wait)
    return {WAIT if wait else DEFAULT: timing}


async def _wait_turn(http: httpx.AsyncClient, n: int) -> tuple[float, str]:
    """A ``wait: true`` turn: when its 201 arrived (perf_counter) and its run's id."""
    _, run_id = await _timed_post(http, n, wait=True)
    return time.perf_counter(), run_id


async def _timed_post(http: httpx.AsyncClient, n: int, *, wait: bool) -> tuple[float, str]:
    sent = time.perf_counter()
    response = await http.post(
        "/v1/chatkit/threads", headers=procs.CONTROL_HEADERS, json=_turn_body(n, wait=wait)
    )
    elapsed = (time.perf_counter() - sent) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"POST /v1/chatkit/threads: HTTP {response.status_code}")
    run = response.json()["run"]
    if wait and run["status"] != "completed":
        raise RuntimeError(f"a wait: true turn answered with its run {run['status']}")
    return elapsed, str(run["id"])


async def _burst_turn(
    http: httpx.AsyncClient, n: int, receiver: Receiver, slots: asyncio.Semaphore
) -> float:
    async with slots:
        answered, run_id = await _wait_turn(http, 10_000 + n)
    return await _lag(receiver, run_id, answered)


async def _lag(receiver: Receiver, run_id: str, answered: float) -> float:
    async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
        arrived = await receiver.arrival(run_id)
    return (arrived - answered) * 1000


async def _protocol_turn(http: httpx.AsyncClient, n: int) -> dict[str, float]:
    """``sessions.create`` then ``threads.create`` with its client secret, read to the end."""
    started = time.perf_counter()
    secret = await create_session(http, f"bench_user_{n % 8}", WORKFLOW)
    sent = time.perf_counter()
    async with http.stream(
        "POST",
        "/v1/chatkit/conversation",
        content=threads_create(f"{TEXT} ({n})"),
        headers=client_headers(secret),
    ) as response:
        body = await response.aread()
    ended = time.perf_counter()
    if response.status_code != 200 or b'"type":"error"' in body:
        raise RuntimeError(f"threads.create: HTTP {response.status_code}")
    return {SESSION: (sent - started) * 1000, PROTOCOL: (ended - sent) * 1000}


async def _endpoint(
    http: httpx.AsyncClient, url: str, events: list[str], *, enabled: bool = True
) -> str:
    response = await http.post(
        "/v1/chatkit/webhooks",
        headers=procs.CONTROL_HEADERS,
        json={"url": url, "events": events, "enabled": enabled},
    )
    response.raise_for_status()
    return str(response.json()["id"])


async def _set_enabled(http: httpx.AsyncClient, endpoints: list[str], *, enabled: bool) -> None:
    for endpoint in endpoints:
        response = await http.post(
            f"/v1/chatkit/webhooks/{endpoint}",
            headers=procs.CONTROL_HEADERS,
            json={"enabled": enabled},
        )
        response.raise_for_status()


def _p(values: list[float], q: float) -> str:
    return ms(percentile(values, q))


def _rows(label: str, result: Backend) -> list[Row]:
    rows = []
    for c, modes in result.latency.items():
        wait, protocol, session = modes[WAIT], modes[PROTOCOL], modes[SESSION]
        both = [s + p for s, p in zip(session, protocol, strict=True)]
        rows.append(
            Row(
                "B6",
                f"server-side turn, {label}, c={c}: POST /v1/chatkit/threads wait:true "
                f"(kithost) vs ChatKit protocol threads.create to its end (anchor); "
                f"p50 / p95, {len(wait)} turns",
                f"{_p(wait, 50)} / {_p(wait, 95)}",
                f"{_p(protocol, 50)} / {_p(protocol, 95)}; + sessions.create "
                f"{_p(session, 50)} / {_p(session, 95)} = {_p(both, 50)} / {_p(both, 95)}",
                f"{times(percentile(wait, 50) / percentile(protocol, 50))} (stream); "
                f"{times(percentile(wait, 50) / percentile(both, 50))} (with session)",
            )
        )
        default = modes[DEFAULT]
        rows.append(
            Row(
                "B6",
                f"server-side turn, {label}, c={c}: default mode (201 once the message is "
                "saved), p50 / p95",
                f"{_p(default, 50)} / {_p(default, 95)}",
            )
        )
    spaced, burst = result.lag_spaced, result.lag_burst
    rows.append(
        Row(
            "B6",
            f"webhook run.completed lag after the wait:true 201, {label}, {len(spaced)} turns "
            "spaced 0–1 s: p50 / p95 / max",
            f"{_p(spaced, 50)} / {_p(spaced, 95)} / {ms(max(spaced))}",
            target="dispatcher poll 1 s",
        )
    )
    rows.append(
        Row(
            "B6",
            f"webhook run.completed lag, {label}, burst of {len(burst)} wait:true turns at c=4: "
            "p50 / max",
            f"{_p(burst, 50)} / {ms(max(burst))}",
        )
    )
    with_rows, without = result.outbox[OUTBOX_ENDPOINTS], result.outbox[0]
    added = percentile(with_rows, 50) - percentile(without, 50)
    rows.append(
        Row(
            "B6",
            f"outbox cost, {label}: wait:true turn p50 / p95 with {OUTBOX_ENDPOINTS} endpoints "
            f"× every event (kithost) vs 0 (anchor), {len(with_rows)} turns each",
            f"{_p(with_rows, 50)} / {_p(with_rows, 95)}",
            f"{_p(without, 50)} / {_p(without, 95)}",
            ("+" if added >= 0 else "−") + ms(abs(added)) + " p50",
        )
    )
    if result.failures:
        failed = f"failed turns, {label} (not timed)"
        rows.append(Row("B6", failed, str(result.failures), verdict=INFO))
    return rows
