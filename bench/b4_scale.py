"""B4: list queries with 1 k and with 1 M stored items, PostgreSQL.

Two databases seeded alike (``bench.seed``): one with a thousand items, one with a million, each
served by its own kithost; the same queries run against both, taking turns. The queried user has
three threads holding 90 % of the items and many small ones. Target: p50 at 1 M ≤ 1.5 × p50 at
1 k for each query. The databases are dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from bench import databases, procs, seed
from bench.loadgen import Load, Summary, interleaved
from bench.plan import Context, Outcome
from bench.rawhttp import build_request
from bench.table import Row, ms, num, times, verdict
from bench.wire import client_headers, create_session, items_list, threads_list

SMALL_ITEMS = 1_000
TARGET = 1.5
CONVERSATION = "/v1/chatkit/conversation"


@dataclass
class Query:
    label: str
    method: str
    path: str
    body: bytes = b""
    conversation: bool = False


def _queries(data: seed.Dataset) -> list[Query]:
    big = data.big_thread_ids[0]
    return [
        Query("REST threads.list ?user= (first page of 20)", "GET",
              f"/v1/chatkit/threads?user={seed.USER}&limit=20"),
        Query("REST threads.list, all users (first page of 20)", "GET",
              "/v1/chatkit/threads?limit=20"),
        Query("REST items.list, biggest thread (first page of 20)", "GET",
              f"/v1/chatkit/threads/{big}/items?limit=20"),
        Query("REST items.list, biggest thread (page after a mid cursor)", "GET",
              f"/v1/chatkit/threads/{big}/items?limit=20&after={data.middle_item_id}"),
        Query("ChatKit threads.list (first page of 20)", "POST", CONVERSATION,
              threads_list(20), conversation=True),
        Query("ChatKit items.list, biggest thread (first page of 20)", "POST", CONVERSATION,
              items_list(big, 20), conversation=True),
        Query("ChatKit items.list, biggest thread (page after a mid cursor)", "POST", CONVERSATION,
              items_list(big, 20, data.middle_item_id), conversation=True),
    ]  # fmt: skip


def _size(items: int) -> str:
    """1 k, 100 k, 1 M: how the table names a dataset."""
    if items >= 1_000_000 and items % 1_000_000 == 0:
        return f"{items // 1_000_000} M"
    return f"{items // 1000} k" if items % 1000 == 0 else str(items)


async def _migrate(database_url: str, workdir: str) -> None:
    env = {**os.environ, "KITHOST_DATABASE_URL": database_url, "KITHOST_DATA_DIR": workdir}
    command = [sys.executable, "-m", "kithost", "migrate"]
    await asyncio.to_thread(
        subprocess.run, command, env=env, check=True, capture_output=True, cwd=workdir
    )


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B4")
    sizes = {"1k": SMALL_ITEMS, "1M": ctx.plan.big_items}
    async with AsyncExitStack() as stack:
        datasets: dict[str, seed.Dataset] = {}
        servers: dict[str, procs.KithostProcess] = {}
        for label, total in sizes.items():
            name = await stack.enter_async_context(
                databases.postgres_database(f"kithost_b4_{label}")
            )
            url = databases.sqlalchemy_url(name)
            folder = ctx.workdir / f"b4-{label}"
            folder.mkdir()
            await _migrate(url, str(folder))
            datasets[label] = await seed.seed(databases.dsn(name), total)
            server = procs.KithostProcess(url, folder)
            await asyncio.to_thread(server.start, 60)
            stack.callback(server.stop)
            servers[label] = server
        secrets: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=60) as http:
            for label, server in servers.items():
                http.base_url = httpx.URL(server.url)
                secrets[label] = await create_session(http, seed.USER, "wf_kithost_demo")

        summaries: dict[str, dict[str, Summary]] = {}
        for index, _ in enumerate(_queries(datasets["1k"])):
            loads = {}
            for label, server in servers.items():
                query = _queries(datasets[label])[index]
                headers = (
                    client_headers(secrets[label]) if query.conversation else procs.CONTROL_HEADERS
                )
                raw = build_request(query.method, query.path, server.port, query.body, headers)
                loads[label] = Load(server.port, raw, 1, procs.pid_of(server))
            try:
                summaries[_queries(datasets["1k"])[index].label] = await interleaved(
                    loads, ctx.plan.reps, 60, ctx.plan.sequential_requests
                )
            finally:
                for load in loads.values():
                    await load.close()

    outcome.raw["datasets"] = {label: data.__dict__ for label, data in datasets.items()}
    outcome.raw["queries"] = {
        query: {label: s.to_json() for label, s in by_size.items()}
        for query, by_size in summaries.items()
    }
    big = datasets["1M"]
    outcome.rows.append(
        Row(
            "B4",
            f"dataset: {num(big.total_items)} items in {num(big.threads)} threads, "
            f"seeded in {big.seconds:.0f} s",
            f"biggest thread: {num(big.total_items * seed.BIG_SHARE / seed.BIG_THREADS)} items",
        )
    )
    for label, by_size in summaries.items():
        small, large = by_size["1k"], by_size["1M"]
        share = large.p50 / small.p50
        rows_errors = small.errors + large.errors
        outcome.rows.append(
            Row(
                "B4",
                f"{label}: p50 at {_size(ctx.plan.big_items)} (p99)",
                f"{ms(large.p50)} ({ms(large.p99)}), CPU {num(large.cpu_us)} µs/req"
                + (f", {rows_errors} errors" if rows_errors else ""),
                f"at {_size(SMALL_ITEMS)}: {ms(small.p50)} ({ms(small.p99)}), "
                f"CPU {num(small.cpu_us)} µs/req",
                times(share),
                "≤ 1.5×",
                verdict(share <= TARGET and not rows_errors),
            )
        )
    return outcome
