"""B2: the conversation plane with a model, against what a user would otherwise run.

- ``items.list`` latency (one request at a time) on a thread of ten items;
- ``threads.create``: time to the first event (``thread.created``) and to the first token of
  the answer, the model being the fake (in its own process, no pacing).

Anchors in the same run: (a) ``bench.anchors.chatkit_min``, openai-chatkit's ``ChatKitServer``
with an in-memory store, no auth, one Agents SDK agent on the same fake; (b) the fake alone,
time to its first token. Targets: kithost ≤ 1.25 × (a); ≤ 5 ms added to (b)'s first token.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx

from bench import procs
from bench.loadgen import Load, Summary, interleaved
from bench.plan import Context, Outcome
from bench.rawhttp import Connection, build_request
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


@dataclass
class Target:
    """One server speaking the ChatKit protocol at ``path``."""

    port: int
    path: str
    secret: str | None
    pid: int
    thread_id: str = ""

    def raw(self, body: bytes) -> bytes:
        return build_request("POST", self.path, self.port, body, client_headers(self.secret))


@dataclass
class FirstTimes:
    """Per-run medians (ms) of time to first event and to first token."""

    first_event: list[float] = field(default_factory=list)
    first_token: list[float] = field(default_factory=list)
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
                server = await stack.enter_async_context(procs.kithost(backend, ctx.workdir, env))
                http.base_url = httpx.URL(server.url)
                secret = await create_session(http, "bench_user", WORKFLOW)
                targets[backend] = Target(
                    server.port, "/v1/chatkit/conversation", secret, procs.pid_of(server)
                )
            for target in targets.values():
                target.thread_id = await _thread_of_ten_items(http, target)

        loads = {
            name: Load(target.port, target.raw(items_list(target.thread_id)), 1, target.pid)
            for name, target in targets.items()
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
    return outcome


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
    sent = time.perf_counter()
    first_event = first_token = math.nan
    async for arrived, chunk in connection.stream(raw):
        if chunk.startswith(b"HTTP "):
            if chunk != b"HTTP 200":
                return None
            continue
        if math.isnan(first_event) and chunk.startswith(b"data: "):
            first_event = arrived - sent
        if math.isnan(first_token) and TEXT_DELTA in chunk:
            first_token = arrived - sent
    return first_event, first_token


async def _fake_turn(connection: Connection, raw: bytes) -> tuple[float, float] | None:
    """The fake alone: time to its first chunk, and to its first content token."""
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
    try:
        for rep in range(reps + 1):  # the first round warms up and is not recorded
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                events: list[float] = []
                tokens: list[float] = []
                for turn in range(turns):
                    if name == FAKE:
                        timing = await _fake_turn(connections[name], fake_raw)
                    else:
                        raw = targets[name].raw(threads_create(f"Hello {rep}.{turn}"))
                        timing = await _one_turn(connections[name], raw)
                    if timing is None or math.isnan(timing[1]):
                        results[name].failures += 1
                        continue
                    events.append(timing[0] * 1000)
                    tokens.append(timing[1] * 1000)
                if rep > 0:
                    results[name].first_event.append(median(events))
                    results[name].first_token.append(median(tokens))
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
