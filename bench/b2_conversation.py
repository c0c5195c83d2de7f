"""B2: the conversation plane with a model, against what a user would otherwise run.

- ``items.list`` latency (one request at a time) on a thread of ten items;
- ``threads.create``: time to the first event (``thread.created``) and to the first token of
  the answer, the model being the fake (in its own process, no pacing).

Anchors in the same run: (a) ``bench.anchors.chatkit_min``, openai-chatkit's ``ChatKitServer``
with an in-memory store, no auth, one Agents SDK agent on the same fake; (b) the fake alone,
time to its first token. Targets: kithost ≤ 1.25 × (a); ≤ 5 ms added to (b)'s first token.

The cost of durable runs (issue 14): the same ``threads.create`` turns, in the same rotation, on
a second server per database running the baseline code (``Context.baseline``, kithost before
runs), and on the code under test with ``X-Kithost-Detach: true`` (each event numbered, the
connection only a follower). Target: ≤ +2 ms p50 to the first token over the baseline.
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from bench import procs
from bench.loadgen import Load, Summary, interleaved
from bench.plan import Context, Outcome
from bench.rawhttp import Connection, ProtocolError, build_request
from bench.stats import median
from bench.table import INFO, Row, ms, num, times, verdict
from bench.wire import (
    TEXT_DELTA,
    add_user_message,
    client_headers,
    create_session,
    items_list,
    threads_create,
    timed_stream,
)

WORKFLOW = "wf_bench_conversation"
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
ANCHOR = "chatkit"
FAKE = "fake"
TURNS_IN_THREAD = 5  # ten items: five questions, five answers
TOKENS = 8
LATENCY_TARGET = 1.25
ADDED_TTFT_TARGET_MS = 5.0
RUNS_TTFT_TARGET_MS = 2.0  # issue 14: what journaling may add to the first token, p50
BEFORE = " before"  # suffix of a baseline server's target name
DETACHED = " detached"  # suffix of the code under test, asked with X-Kithost-Detach: true
DETACH_HEADERS = {"X-Kithost-Detach": "true"}


@dataclass
class Target:
    """One server speaking the ChatKit protocol at ``path``."""

    port: int
    path: str
    secret: str | None
    pid: int
    thread_id: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)

    def raw(self, body: bytes) -> bytes:
        headers = {**client_headers(self.secret), **self.extra_headers}
        return build_request("POST", self.path, self.port, body, headers)


@dataclass
class FirstTimes:
    """Per-run medians (ms) of time to first event and to first token."""

    first_event: list[float] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)
    cpu_per_turn: list[float] = field(default_factory=list)  # ms, the server's whole process
    failures: int = 0


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B2")
    async with AsyncExitStack() as stack:
        fake = stack.enter_context(procs.FakeModelProcess(tokens=TOKENS))
        env = procs.model_env(fake, procs.workflow_folder(ctx.workdir / "b2", WORKFLOW))
        anchor = stack.enter_context(
            procs.AnchorProcess("chatkit_min", f"--model-base-url={fake.base_url}")
        )
        targets: dict[str, Target] = {
            ANCHOR: Target(anchor.port, "/chatkit", None, procs.pid_of(anchor))
        }
        async with httpx.AsyncClient(timeout=60) as http:
            for backend in BACKENDS:
                targets[backend] = await _kithost_target(
                    stack, http, backend, ctx.workdir, env, ctx.current.name
                )
                if ctx.baseline is not None:
                    await _check_runs(http, targets[backend], expected=True)
                    targets[backend + DETACHED] = replace(
                        targets[backend], extra_headers=DETACH_HEADERS
                    )
                    before_env = {**env, **ctx.baseline.env}
                    before = await _kithost_target(
                        stack, http, backend, ctx.workdir, before_env, ctx.baseline.name
                    )
                    await _check_runs(http, before, expected=False)
                    targets[backend + BEFORE] = before
            for name in (ANCHOR, *BACKENDS):
                targets[name].thread_id = await _thread_of_ten_items(http, targets[name])

        loads = {
            name: Load(target.port, target.raw(items_list(target.thread_id)), 1, target.pid)
            for name, target in targets.items()
            if name == ANCHOR or name in BACKENDS
        }
        try:
            lists = await interleaved(loads, ctx.plan.reps, 60, ctx.plan.sequential_requests)
        finally:
            for load in loads.values():
                await load.close()

        firsts = await _first_times(targets, fake, ctx.plan.reps, ctx.plan.turns)

    outcome.raw["items_list"] = {name: s.to_json() for name, s in lists.items()}
    outcome.raw["threads_create"] = {name: f.__dict__ for name, f in firsts.items()}
    outcome.rows += _rows(lists, firsts)
    if ctx.baseline is not None:
        outcome.rows += _runs_rows(firsts, ctx.current.label, ctx.baseline.label)
    return outcome


async def _kithost_target(
    stack: AsyncExitStack,
    http: httpx.AsyncClient,
    backend: str,
    workdir: Path,
    env: dict[str, str],
    name: str,
) -> Target:
    server = await stack.enter_async_context(procs.kithost(backend, workdir, env, f"b2-{name}"))
    http.base_url = httpx.URL(server.url)
    secret = await create_session(http, "bench_user", WORKFLOW)
    return Target(server.port, "/v1/chatkit/conversation", secret, procs.pid_of(server))


async def _check_runs(http: httpx.AsyncClient, target: Target, *, expected: bool) -> None:
    """The server runs the code it should: a streamed turn is a run, or it is not."""
    url = f"http://127.0.0.1:{target.port}{target.path}"
    headers = client_headers(target.secret)
    async with http.stream("POST", url, content=threads_create("Hi?"), headers=headers) as answer:
        await answer.aread()
    if answer.status_code != 200 or ("x-kithost-run-id" in answer.headers) != expected:
        has = "has" if "x-kithost-run-id" in answer.headers else "has no"
        raise RuntimeError(f"{url}: HTTP {answer.status_code}, {has} X-Kithost-Run-Id")


async def _thread_of_ten_items(http: httpx.AsyncClient, target: Target) -> str:
    url = f"http://127.0.0.1:{target.port}{target.path}"
    first = await timed_stream(http, url, threads_create("Question 0?"), target.secret)
    if first.status != 200 or first.thread_id is None:
        raise RuntimeError(f"threads.create failed on {url}: HTTP {first.status}")
    for turn in range(1, TURNS_IN_THREAD):
        body = add_user_message(first.thread_id, f"Question {turn}?")
        timing = await timed_stream(http, url, body, target.secret)
        if timing.status != 200 or timing.first_token is None:
            raise RuntimeError(f"turn {turn} failed on {url}: HTTP {timing.status}")
    return first.thread_id


async def _one_turn(connection: Connection, raw: bytes) -> tuple[float, float] | None:
    """Time to first event and to first text delta (seconds) of one streamed turn."""
    try:
        return await _timed_turn(connection, raw)
    except ProtocolError as error:
        print(f"[bench] B2: port {connection.port}: {error}", file=sys.stderr, flush=True)
        return None  # the connection is closed: the next turn opens a new one


async def _timed_turn(connection: Connection, raw: bytes) -> tuple[float, float] | None:
    sent = time.perf_counter()
    first_event = first_token = math.nan
    async for arrived, chunk in connection.stream(raw):
        if chunk.startswith(b"HTTP "):
            if chunk != b"HTTP 200":
                return None
            continue
        if math.isnan(first_event) and b"data: " in chunk:  # detached: after an id line
            first_event = arrived - sent
        if math.isnan(first_token) and TEXT_DELTA in chunk:
            first_token = arrived - sent
    return first_event, first_token


async def _fake_turn(connection: Connection, raw: bytes) -> tuple[float, float] | None:
    """The fake alone: time to its first chunk, and to its first content token."""
    try:
        return await _timed_fake_turn(connection, raw)
    except ProtocolError as error:
        print(f"[bench] B2: the fake: {error}", file=sys.stderr, flush=True)
        return None


async def _timed_fake_turn(connection: Connection, raw: bytes) -> tuple[float, float] | None:
    sent = time.perf_counter()
    first_event = first_token = math.nan
    async for arrived, chunk in connection.stream(raw):
        if chunk.startswith(b"HTTP "):
            if chunk != b"HTTP 200":
                return None
            continue
        for line in chunk.split(b"\n"):
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            if math.isnan(first_event):
                first_event = arrived - sent
            choices = json.loads(line[6:]).get("choices") or [{}]
            if math.isnan(first_token) and choices[0].get("delta", {}).get("content"):
                first_token = arrived - sent
    return first_event, first_token


async def _first_times(
    targets: dict[str, Target], fake: procs.FakeModelProcess, reps: int, turns: int
) -> dict[str, FirstTimes]:
    fake_body = json.dumps(
        {
            "model": procs.FAKE_MODEL,
            "messages": [{"role": "user", "content": "Question?"}],
            "stream": True,
        }
    ).encode()
    fake_raw = build_request(
        "POST", "/v1/chat/completions", fake.port, fake_body, {"Content-Type": "application/json"}
    )
    connections = {name: Connection(t.port) for name, t in targets.items()}
    connections[FAKE] = Connection(fake.port)
    results = {name: FirstTimes() for name in connections}
    names = list(connections)
    pids = {name: t.pid for name, t in targets.items()}
    assert fake.proc is not None
    pids[FAKE] = fake.proc.pid
    sharing = {name: sum(pid == pids[name] for pid in pids.values()) for name in names}
    try:
        for rep in range(reps + 1):  # the first round warms up and is not recorded
            events: dict[str, list[float]] = {name: [] for name in names}
            tokens: dict[str, list[float]] = {name: [] for name in names}
            cpu_before = {name: procs.cpu_seconds(pid) for name, pid in pids.items()}
            # Turn by turn, the servers in a rotating order: a busy moment of the machine falls
            # on all of them alike.
            for turn in range(turns):
                shift = (rep * turns + turn) % len(names)
                for name in names[shift:] + names[:shift]:
                    if name == FAKE:
                        timing = await _fake_turn(connections[name], fake_raw)
                    else:
                        raw = targets[name].raw(threads_create(f"Hello {rep}.{turn}"))
                        timing = await _one_turn(connections[name], raw)
                    if timing is None or math.isnan(timing[1]):
                        results[name].failures += 1
                        continue
                    events[name].append(timing[0] * 1000)
                    tokens[name].append(timing[1] * 1000)
            if rep > 0:
                for name in names:
                    results[name].first_event.append(median(events[name]))
                    results[name].first_token.append(median(tokens[name]))
                    cpu = procs.cpu_seconds(pids[name]) - cpu_before[name]
                    # Targets on one process (plain and detached) share its CPU.
                    results[name].cpu_per_turn.append(cpu * 1000 / (turns * sharing[name]))
    finally:
        for connection in connections.values():
            await connection.close()
    return results


def _rows(lists: dict[str, Summary], firsts: dict[str, FirstTimes]) -> list[Row]:
    rows = []
    anchor_list = lists[ANCHOR]
    for backend, label in BACKENDS.items():
        mine = lists[backend]
        share = mine.p50 / anchor_list.p50
        rows.append(
            Row(
                "B2",
                f"items.list (10 items), {label}: p50 / p99",
                f"{ms(mine.p50)} / {ms(mine.p99)}, CPU {num(mine.cpu_us)} µs/req",
                f"(a) {ms(anchor_list.p50)} / {ms(anchor_list.p99)}, "
                f"CPU {num(anchor_list.cpu_us)} µs/req",
                times(share),
                "≤ 1.25× (a)",
                verdict(share <= LATENCY_TARGET and not mine.errors),
            )
        )
    anchor_event = median(firsts[ANCHOR].first_event)
    anchor_token = median(firsts[ANCHOR].first_token)
    fake_token = median(firsts[FAKE].first_token)
    for backend, label in BACKENDS.items():
        event = median(firsts[backend].first_event)
        token = median(firsts[backend].first_token)
        rows.append(
            Row(
                "B2",
                f"threads.create, {label}: time to first event (thread.created), p50",
                ms(event),
                f"(a) {ms(anchor_event)}",
                times(event / anchor_event),
                "≤ 1.25× (a)",
                verdict(event <= LATENCY_TARGET * anchor_event),
            )
        )
        added = token - fake_token
        rows.append(
            Row(
                "B2",
                f"threads.create, {label}: time to first token, p50",
                ms(token),
                f"(a) {ms(anchor_token)}; (b) fake alone {ms(fake_token)}",
                f"{times(token / anchor_token)} (a); +{ms(added)} over (b)",
                "≤ 1.25× (a); ≤ +5 ms over (b)",
                verdict(token <= LATENCY_TARGET * anchor_token and added <= ADDED_TTFT_TARGET_MS),
            )
        )
    failures = {name: f.failures for name, f in firsts.items() if f.failures}
    if failures:
        rows.append(Row("B2", "failed turns (not timed)", json.dumps(failures), verdict=INFO))
    return rows


def _runs_rows(firsts: dict[str, FirstTimes], label: str, before_label: str) -> list[Row]:
    """Issue 14: the code under test against the baseline, and detached against plain."""
    rows = []
    for backend, name in BACKENDS.items():
        mine, before = firsts[backend], firsts[backend + BEFORE]
        token, token_before = median(mine.first_token), median(before.first_token)
        cpu, cpu_before = median(mine.cpu_per_turn), median(before.cpu_per_turn)
        added = token - token_before
        rows.append(
            Row(
                "B2",
                f"threads.create, {name}: time to first token, p50; server CPU per turn — "
                f"{label} (kithost) vs {before_label} (anchor)",
                f"{ms(token)}; CPU {ms(cpu)}",
                f"{ms(token_before)}; CPU {ms(cpu_before)}",
                f"{_signed_ms(added)}; CPU {times(cpu / cpu_before)}",
                f"≤ +{RUNS_TTFT_TARGET_MS:g} ms p50",
                verdict(added <= RUNS_TTFT_TARGET_MS),
            )
        )
        event, event_before = median(mine.first_event), median(before.first_event)
        rows.append(
            Row(
                "B2",
                f"threads.create, {name}: time to first event, p50 — {label} vs {before_label}",
                ms(event),
                ms(event_before),
                _signed_ms(event - event_before),
            )
        )
        token_detached = median(firsts[backend + DETACHED].first_token)
        rows.append(
            Row(
                "B2",
                f"threads.create, {name}: time to first token, p50 — X-Kithost-Detach: true "
                "(kithost) vs plain (anchor), same server",
                ms(token_detached),
                ms(token),
                _signed_ms(token_detached - token),
            )
        )
    return rows


def _signed_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else ("+" if value >= 0 else "−") + ms(abs(value))
