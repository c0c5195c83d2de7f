"""B3: how many streams kithost keeps open at once, each getting a token every 50 ms.

The fake model runs in its own process and streams every answer endlessly, one token per 50 ms.
For growing N, N ``threads.create`` streams are opened (spread over a ramp), and once all of them
stream, the gaps between consecutive tokens of each stream are measured for a window cut into
five parts; a step passes when the median of the five parts' p99 gap is ≤ 100 ms and every
stream is alive. The answer is the largest passing N (target ≥ 500 on this 2-core machine),
with kithost's resident memory per open stream. At the first failing N, the same streams are
opened against the fake alone, to show what the fake and the load generator cost by themselves.
After the steps, the gap between the largest passing and the first failing N (or 0) is bisected
down to ten streams.

The cost of durable runs (issue 14): with a baseline (``Context.baseline``, kithost before runs),
the same search runs on both builds, on PostgreSQL and on SQLite, each step taking turns between
the two servers; the target is the code under test's N within 10 % of the baseline's. CPU per
streamed token at the largest N both pass is the steadier figure beside it (N ∝ 1 / CPU per
token once a core is full).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import procs
from bench.builds import Build
from bench.plan import Context, Outcome
from bench.rawhttp import Connection, ProtocolError, build_request
from bench.stats import median, percentile
from bench.table import INFO, Row, ms, num, times, verdict
from bench.wire import TEXT_DELTA, client_headers, create_session, threads_create

WORKFLOW = "wf_bench_streams"
TOKEN_INTERVAL = 0.05
GAP_TARGET_MS = 100.0
N_TARGET = 500
PARTS = 5
RAMP_RATE = 200  # streams opened per second, at most
START_TIMEOUT = 30.0  # every stream must have streamed within this after its launch
FAKE_CHUNK = b'"content"'
RESOLUTION = 10  # bisect until the largest pass and the first failure are this close
RUNS_N_TARGET = 0.9  # issue 14: N with runs ≥ 90 % of N before them
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


@dataclass
class Stream:
    started: asyncio.Event
    tokens: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass
class Step:
    n: int
    p99_ms: float = math.nan  # median over the window's parts
    p99_parts_ms: list[float] = field(default_factory=list)
    p99_overall_ms: float = math.nan
    p50_ms: float = math.nan
    gaps: int = 0
    stalled: int = 0
    errors: int = 0
    first_error: str | None = None
    opened_in_s: float = math.nan
    rss_mb: float = math.nan
    cpu_percent: float = math.nan  # of one core, the server's process during the window
    tokens: int = 0  # tokens received during the window, all streams
    cpu_us_per_token: float = math.nan  # the server's CPU per token delivered

    @property
    def capacity(self) -> float:
        """Streams one fully used core could feed at this CPU cost per token."""
        return 1e6 / (self.cpu_us_per_token / TOKEN_INTERVAL) if self.cpu_us_per_token else math.nan

    @property
    def passed(self) -> bool:
        return self.p99_ms <= GAP_TARGET_MS and not self.stalled and not self.errors


async def _consume(port: int, raw: bytes, marker: bytes, stream: Stream) -> None:
    connection = Connection(port)
    try:
        async for arrived, chunk in connection.stream(raw):
            if chunk.startswith(b"HTTP "):
                if chunk != b"HTTP 200":
                    stream.error = chunk.decode()
                    return
                continue
            for _ in range(chunk.count(marker)):
                stream.tokens.append(arrived)
                stream.started.set()
        stream.error = "the stream ended"
    except (OSError, ProtocolError, asyncio.IncompleteReadError) as error:
        stream.error = repr(error)
    finally:
        stream.started.set()
        await connection.close()


async def _step(
    n: int,
    port: int,
    raw: Any,
    marker: bytes,
    window: float,
    pid: int | None = None,
) -> Step:
    """Open ``n`` streams, measure a window of steady state, close them all."""
    step = Step(n)
    streams = [Stream(asyncio.Event()) for _ in range(n)]
    tasks: list[asyncio.Task[None]] = []
    ramp = n / RAMP_RATE
    launched = time.perf_counter()
    try:
        for index, stream in enumerate(streams):
            delay = launched + index * ramp / n - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_consume(port, raw(index), marker, stream)))
        with suppress(TimeoutError):
            async with asyncio.timeout(START_TIMEOUT):
                for stream in streams:
                    await stream.started.wait()
        step.opened_in_s = time.perf_counter() - launched
        await asyncio.sleep(3 * TOKEN_INTERVAL)  # every stream has had a gap behind it
        cpu_before = procs.cpu_seconds(pid) if pid else math.nan
        start = time.perf_counter()
        await asyncio.sleep(window / 2)
        if pid:
            step.rss_mb = procs.rss_bytes(pid) / 2**20
        await asyncio.sleep(window / 2)
        end = time.perf_counter()
        cpu = procs.cpu_seconds(pid) - cpu_before if pid else math.nan
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    _gaps(step, streams, start, end)
    step.tokens = sum(1 for s in streams for t in s.tokens if start <= t < end)
    step.cpu_percent = cpu / (end - start) * 100
    step.cpu_us_per_token = cpu / step.tokens * 1e6 if step.tokens else math.nan
    return step


def _gaps(step: Step, streams: list[Stream], start: float, end: float) -> None:
    """Every gap that ends inside the window, by part; a stream silent past its last token
    counts that silence (up to the window's end) as a gap too."""
    parts: list[list[float]] = [[] for _ in range(PARTS)]
    width = (end - start) / PARTS
    everything: list[float] = []
    for stream in streams:
        if stream.error and stream.error != "the stream ended":
            step.errors += 1
            step.first_error = step.first_error or stream.error
        times = stream.tokens
        inside = [i for i, t in enumerate(times) if start <= t < end]
        if not inside:
            step.stalled += 1
            continue
        for i in inside:
            if i == 0:
                continue
            gap = times[i] - times[i - 1]
            parts[min(PARTS - 1, int((times[i] - start) / width))].append(gap)
            everything.append(gap)
        silence = end - times[inside[-1]]
        if silence > 2 * TOKEN_INTERVAL:
            part = min(PARTS - 1, int((times[inside[-1]] - start) / width))
            parts[part].append(silence)
            everything.append(silence)
    step.gaps = len(everything)
    step.p99_parts_ms = [percentile(part, 99) * 1000 for part in parts]
    step.p99_ms = median(step.p99_parts_ms)
    step.p99_overall_ms = percentile(everything, 99) * 1000
    step.p50_ms = percentile(everything, 50) * 1000


async def _quiesce(pid: int, limit: float = 20.0) -> None:
    """Wait until kithost is idle again (the closed streams' partial answers are saved)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        before = procs.cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if procs.cpu_seconds(pid) - before < 0.05:
            return


@dataclass
class Subject:
    """One kithost server under B3's load, and where its search for the largest N stands."""

    label: str
    port: int
    pid: int
    raw: Callable[[int], bytes]
    idle_rss: float = math.nan
    steps: list[Step] = field(default_factory=list)
    last_pass: int = 0
    failed: Step | None = None

    async def warm_up(self) -> None:
        await _step(5, self.port, self.raw, TEXT_DELTA, 1.0)
        await _quiesce(self.pid)
        self.idle_rss = procs.rss_bytes(self.pid) / 2**20

    async def measure(self, n: int, window: float) -> Step:
        step = await _step(n, self.port, self.raw, TEXT_DELTA, window, self.pid)
        self.steps.append(step)
        if step.passed:
            self.last_pass = max(self.last_pass, n)
        elif self.failed is None or n < self.failed.n:
            self.failed = step
        await _quiesce(self.pid)
        return step

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "idle_rss_mb": self.idle_rss,
            "largest_n": self.last_pass,
            "steps": [s.__dict__ for s in self.steps],
        }


async def _subject(
    stack: AsyncExitStack, backend: str, workdir: Path, env: dict[str, str], build: Build
) -> Subject:
    server = await stack.enter_async_context(
        procs.kithost(backend, workdir, env, f"b3-{build.name}")
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        secret = await create_session(http, "bench_user", WORKFLOW)
    path, headers = "/v1/chatkit/conversation", client_headers(secret)

    def raw(index: int) -> bytes:
        body = threads_create(f"Stream {index}: go on.")
        return build_request("POST", path, server.port, body, headers)

    subject = Subject(build.label, server.port, procs.pid_of(server), raw)
    await subject.warm_up()
    return subject


async def _search(subjects: list[Subject], stream_steps: tuple[int, ...], window: float) -> None:
    """Each subject's largest passing N: the plan's steps until one fails, then bisection.

    The subjects take turns at every step, in a rotating order.
    """
    rounds = 0

    def rotated(group: list[Subject]) -> list[Subject]:
        shift = rounds % len(group)
        return group[shift:] + group[:shift]

    for n in stream_steps:
        searching = [s for s in subjects if s.failed is None]
        if not searching:
            break
        for subject in rotated(searching):
            await subject.measure(n, window)
        rounds += 1
    while True:
        pending = [
            s for s in subjects if s.failed is not None and s.failed.n - s.last_pass > RESOLUTION
        ]
        if not pending:
            return
        for subject in rotated(pending):
            assert subject.failed is not None
            await subject.measure((subject.last_pass + subject.failed.n) // 20 * 10, window)
        rounds += 1


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B3")
    window = ctx.plan.stream_window
    compared: dict[str, tuple[Subject, Subject]] = {}
    async with AsyncExitStack() as stack:
        fake = stack.enter_context(procs.FakeModelProcess(tokens=0, token_interval=TOKEN_INTERVAL))
        env = procs.model_env(fake, procs.workflow_folder(ctx.workdir / "b3", WORKFLOW))
        main: Subject | None = None
        for backend in BACKENDS if ctx.baseline is not None else ("postgresql",):
            async with AsyncExitStack() as servers:  # one database's servers at a time
                subjects = [await _subject(servers, backend, ctx.workdir, env, ctx.current)]
                if ctx.baseline is not None:
                    before_env = {**env, **ctx.baseline.env}
                    subjects.append(
                        await _subject(servers, backend, ctx.workdir, before_env, ctx.baseline)
                    )
                await _search(subjects, ctx.plan.stream_steps, window)
                if len(subjects) == 2:
                    compared[backend] = (subjects[0], subjects[1])
                if backend == "postgresql":
                    main = subjects[0]
        assert main is not None
        diagnostics: dict[str, Step] = {}
        if main.failed is not None:
            diagnostics = await _diagnostics(stack, fake, main, window)

    outcome.raw["idle_rss_mb"] = main.idle_rss
    outcome.raw["steps"] = [s.__dict__ for s in main.steps]
    outcome.raw["diagnostics"] = {name: s.__dict__ for name, s in diagnostics.items()}
    outcome.raw["compared"] = {
        backend: [s.to_json() for s in pair] for backend, pair in compared.items()
    }
    outcome.rows += _rows(main.steps, main.failed, diagnostics, main.idle_rss)
    if ctx.baseline is not None:
        for backend, (mine, before) in compared.items():
            outcome.rows += _runs_rows(BACKENDS[backend], mine, before)
    return outcome


async def _diagnostics(
    stack: AsyncExitStack, fake: procs.FakeModelProcess, main: Subject, window: float
) -> dict[str, Step]:
    """The failing load on the fake alone, and on anchor (a) where kithost passed and failed."""
    assert main.failed is not None
    diagnostics: dict[str, Step] = {}
    fake_pid = fake.proc.pid if fake.proc is not None else None
    diagnostics["fake"] = await _step(
        main.failed.n, fake.port, _fake_raw(fake.port), FAKE_CHUNK, window, fake_pid
    )
    anchor = stack.enter_context(
        procs.AnchorProcess("chatkit_min", f"--model-base-url={fake.base_url}")
    )
    anchor_pid = procs.pid_of(anchor)

    def anchor_raw(index: int) -> bytes:
        body = threads_create(f"Stream {index}: go on.")
        return build_request("POST", "/chatkit", anchor.port, body, client_headers(None))

    await _step(5, anchor.port, anchor_raw, TEXT_DELTA, 1.0)  # warm-up
    await _quiesce(anchor_pid)
    for n in sorted({n for n in (main.last_pass, main.failed.n) if n}):
        # where kithost passed (comparable costs), and where it failed
        diagnostics[f"chatkit{n}"] = await _step(
            n, anchor.port, anchor_raw, TEXT_DELTA, window, anchor_pid
        )
        await _quiesce(anchor_pid)
    return diagnostics


def _fake_raw(port: int) -> Any:
    body = json.dumps(
        {
            "model": procs.FAKE_MODEL,
            "messages": [{"role": "user", "content": "go on"}],
            "stream": True,
        }
    ).encode()
    raw = build_request(
        "POST", "/v1/chat/completions", port, body, {"Content-Type": "application/json"}
    )
    return lambda _index: raw


def _describe(step: Step) -> str:
    text = f"p99 {ms(step.p99_ms)}, p50 {ms(step.p50_ms)}"
    if not math.isnan(step.cpu_percent):
        text += f"; server CPU {step.cpu_percent:.0f} %, {num(step.cpu_us_per_token)} µs/token"
    if step.stalled:
        text += f", {step.stalled} stalled"
    if step.errors:
        text += f", {step.errors} errors"
    return text


def _rows(
    steps: list[Step], failed: Step | None, diagnostics: dict[str, Step], idle_rss: float
) -> list[Row]:
    passing = sorted((s for s in steps if s.passed), key=lambda s: s.n)
    best = passing[-1] if passing else None
    largest = best.n if best else 0
    tried = ", ".join(f"{s.n}{'' if s.passed else ' ✗'}" for s in sorted(steps, key=lambda s: s.n))
    rows = [
        Row(
            "B3",
            f"open streams, token every 50 ms: largest N with p99 gap ≤ 100 ms (tried {tried})",
            f"N = {largest}" if best else f"N < {min(s.n for s in steps)}",
            target=f"N ≥ {N_TARGET}",
            verdict=verdict(largest >= N_TARGET),
        )
    ]
    if best is not None:
        rows.append(Row("B3", f"inter-token gap at N = {best.n}", _describe(best)))
        per_stream = (best.rss_mb - idle_rss) * 1024 / best.n
        rows.append(
            Row(
                "B3",
                f"kithost memory at N = {best.n}: RSS (idle {num(idle_rss)} MiB)",
                f"{num(best.rss_mb)} MiB, {num(per_stream)} KiB per stream",
                verdict=INFO,
            )
        )
    if failed is not None:
        rows.append(Row("B3", f"inter-token gap at N = {failed.n} (fails)", _describe(failed)))
    if best is not None and not math.isnan(best.cpu_us_per_token):
        # Where kithost is busiest and still keeps pace: below, fixed costs weigh on few tokens;
        # above, a backlog does.
        cost = best.cpu_us_per_token
        rows.append(
            Row(
                "B3",
                f"kithost CPU per streamed token at N = {best.n} → streams one core can feed",
                f"{num(cost)} µs/token → N ≈ {num(1e6 * TOKEN_INTERVAL / cost)}",
                target="≤ 100 µs for N = 500",
            )
        )
    for name, step in diagnostics.items():
        label = (
            "diagnostic: the fake model alone"
            if name == "fake"
            else "diagnostic: B2's anchor (a), bare ChatKitServer + Agents SDK"
        )
        rows.append(Row("B3", f"{label}, N = {step.n}", _describe(step)))
    return rows


def _tried(subject: Subject) -> str:
    return ", ".join(
        f"{s.n}{'' if s.passed else ' ✗'}" for s in sorted(subject.steps, key=lambda s: s.n)
    )


def _comparable(mine: Subject, before: Subject) -> tuple[Step, Step] | None:
    """The two builds' steps at the largest N both passed, else at the smallest both tried."""
    theirs = {s.n: s for s in before.steps}
    shared = [(a, theirs[a.n]) for a in sorted(mine.steps, key=lambda s: s.n) if a.n in theirs]
    passed = [(a, b) for a, b in shared if a.passed and b.passed]
    if passed:
        return passed[-1]
    return shared[0] if shared else None


def _runs_rows(name: str, mine: Subject, before: Subject) -> list[Row]:
    """Issue 14: the largest N with runs against the baseline's, and their costs at one N."""
    share = mine.last_pass / before.last_pass if before.last_pass else math.nan
    rows = [
        Row(
            "B3",
            f"open streams, {name}: largest N with p99 gap ≤ 100 ms — {mine.label} (kithost; "
            f"tried {_tried(mine)}) vs {before.label} (anchor; tried {_tried(before)})",
            f"N = {mine.last_pass}",
            f"N = {before.last_pass}",
            "n/a" if math.isnan(share) else f"{(share - 1) * 100:+.0f} %",
            f"≥ {RUNS_N_TARGET * 100:.0f} % of the baseline's N",
            "n/a" if math.isnan(share) else verdict(share >= RUNS_N_TARGET),
        )
    ]
    if (pair := _comparable(mine, before)) is not None:
        a, b = pair
        n = a.n

        def costs(step: Step, subject: Subject) -> str:
            per_stream = (step.rss_mb - subject.idle_rss) * 1024 / step.n
            return (
                f"{num(step.cpu_us_per_token)} µs/token, p99 {ms(step.p99_ms)}, "
                f"{num(per_stream)} KiB/stream"
            )

        rows.append(
            Row(
                "B3",
                f"at N = {n}{'' if a.passed and b.passed else ' (not passed by both)'}, "
                f"{name}: server CPU per streamed token, p99 gap, memory per stream",
                costs(a, mine),
                costs(b, before),
                f"CPU {times(a.cpu_us_per_token / b.cpu_us_per_token)}",
            )
        )
    return rows
