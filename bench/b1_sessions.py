"""B1: ``sessions.create`` throughput and latency at concurrency 1, 16 and 64, on SQLite and on
PostgreSQL, against two anchors on the same server settings: a bare ASGI app answering a JSON
body of the same size (the floor of any Python JSON API here), and the work itself by hand
(``anchors/session_work.py``: one SELECT for the key's hash and one committed INSERT on
PostgreSQL with asyncpg). Target (issue 18): kithost on PostgreSQL reaches at least half the
work itself's throughput."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import httpx

from bench import procs
from bench.databases import dsn, postgres_database
from bench.loadgen import Load, Summary, interleaved
from bench.plan import Context, Outcome
from bench.rawhttp import build_request
from bench.table import INFO, Row, ms, num, percent, verdict
from bench.wire import session_body

CONCURRENCY = (1, 16, 64)
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TARGET = 0.5
BARE = "bare"
WORK = "work"


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B1")
    body = json.dumps(session_body("bench_user", "wf_kithost_demo", rate_limited=True)).encode()
    async with AsyncExitStack() as stack:
        servers = {
            backend: await stack.enter_async_context(procs.kithost(backend, ctx.workdir))
            for backend in BACKENDS
        }
        async with httpx.AsyncClient(timeout=30) as http:
            sample = await http.post(
                servers["postgresql"].url + "/v1/chatkit/sessions",
                content=body,
                headers=procs.CONTROL_HEADERS,
            )
            sample.raise_for_status()
        size = len(sample.content)
        bare = stack.enter_context(procs.AnchorProcess("bare", f"--body-size={size}"))
        work_database = await stack.enter_async_context(postgres_database("kithost_anchor"))
        work = stack.enter_context(
            procs.AnchorProcess(
                "session_work",
                f"--dsn={dsn(work_database)}",
                f"--admin-key={procs.ADMIN_KEY}",
                f"--body-size={size}",
            )
        )
        anchors = {BARE: bare, WORK: work}
        ports = {name: anchor.port for name, anchor in anchors.items()}
        ports.update({name: server.port for name, server in servers.items()})
        pids = {name: procs.pid_of(anchor) for name, anchor in anchors.items()}
        pids.update({name: procs.pid_of(server) for name, server in servers.items()})
        outcome.raw["response_bytes"] = size
        for concurrency in CONCURRENCY:
            loads = {
                name: Load(
                    port,
                    build_request(
                        "POST", "/v1/chatkit/sessions", port, body, procs.CONTROL_HEADERS
                    ),
                    concurrency,
                    pids[name],
                )
                for name, port in ports.items()
            }
            try:
                summaries = await interleaved(
                    loads, ctx.plan.reps, ctx.plan.run_seconds, ctx.plan.max_requests
                )
            finally:
                for load in loads.values():
                    await load.close()
            outcome.raw[f"c{concurrency}"] = {k: s.to_json() for k, s in summaries.items()}
            for backend, label in BACKENDS.items():
                row = _row(label, concurrency, summaries[backend], summaries[BARE], BARE)
                outcome.rows.append(row)
            work_row = _row(
                BACKENDS["postgresql"], concurrency, summaries["postgresql"], summaries[WORK], WORK
            )
            outcome.rows.append(work_row)
    return outcome


def _figures(summary: Summary) -> str:
    text = f"{num(summary.throughput)} req/s ({ms(summary.p50)} / {ms(summary.p99)})"
    text += f", CPU {num(summary.cpu_us)} µs/req"
    return text + (f", {summary.errors} errors" if summary.errors else "")


def _row(label: str, concurrency: int, kithost: Summary, anchor: Summary, anchor_name: str) -> Row:
    """kithost against an anchor: the bare app is information (how far above the floor of any
    Python JSON API), the work itself carries issue 18's target."""
    share = kithost.throughput / anchor.throughput if anchor.throughput else float("nan")
    targeted = anchor_name == WORK
    met = share >= TARGET and not kithost.errors and not anchor.errors
    against = "the work itself" if targeted else "bare app"
    return Row(
        scenario="B1",
        what=f"sessions.create, {label}, c={concurrency}, vs {against}: req/s (p50 / p99)",
        kithost=_figures(kithost),
        anchor=_figures(anchor),
        ratio=percent(share),
        target="≥ 50 %" if targeted else "—",
        verdict=verdict(met) if targeted else INFO,
    )
