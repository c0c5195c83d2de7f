"""kithost's ``VectorIndex``: an embedding model, and a place that ranks vectors.

``open_vector_index`` picks the best search the database allows and says which:

| database | vectors searched by |
|---|---|
| SQLite | sqlite-vec, in SQLite (through apsw), over ``chunk_embeddings`` |
| PostgreSQL with pgvector | pgvector's HNSW index (a copy of each vector in a ``vector`` column) |
| PostgreSQL without it, or SQLite where sqlite-vec cannot load | exact similarity in the process |

With no ``KITHOST_EMBEDDING_MODEL`` there is no index, and search is keyword-only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.retrieval.embeddings import Embedder, EmbeddingFailed, EmbeddingSettings
from kithost.retrieval.models import Chunk
from kithost.settings import Settings
from kithost.store.chunk_vectors import ChunkVectors, ExactSearch, Ranked
from kithost.store.pgvector import PgVectorSearch, PgVectorUnavailable, enable_pgvector
from kithost.store.sqlite_vec import SqliteVecSearch, SqliteVecUnavailable
from kithost.workflows.providers import ProviderConfig

log = logging.getLogger("kithost.retrieval")

# Chunks embedded per round when vectors are made for chunks that have none.
BACKFILL_PAGE = 256


class Searcher(Protocol):
    """Ranks stored vectors against a query vector."""

    async def nearest(
        self,
        store_ids: Sequence[str],
        query: NDArray[np.float32],
        limit: int,
        allowed: Collection[int] | None,
        model: str,
    ) -> Ranked: ...

    def describe(self) -> str: ...


class EmbeddingIndex:
    """Embeds chunks when they are stored, and queries when they are searched."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: ChunkVectors,
        searcher: Searcher,
        pgvector: PgVectorSearch | None = None,
        note: str = "",
    ) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.searcher = searcher
        self.pgvector = pgvector
        self.note = note
        self._backfill: asyncio.Task[None] | None = None

    @property
    def model(self) -> str:
        return self.embedder.model

    async def index(self, chunks: list[Chunk]) -> None:
        if not chunks:
            return
        vectors = await self.embedder.embed(
            [chunk.text for chunk in chunks], [chunk.token_count for chunk in chunks]
        )
        async with self.vectors.engine.begin() as conn:
            await self.vectors.write(conn, chunks, vectors, self.model)
            if self.pgvector is not None:
                await self.pgvector.write(conn, chunks, vectors, self.model)

    async def nearest(
        self,
        store_ids: list[str],
        query_text: str,
        limit: int,
        allowed_chunk_ids: Collection[int] | None,
    ) -> list[tuple[int, float]]:
        if limit <= 0 or not store_ids:
            return []
        if allowed_chunk_ids is not None and not allowed_chunk_ids:
            return []
        query = await self.embedder.embed_one(query_text)
        return await self.searcher.nearest(store_ids, query, limit, allowed_chunk_ids, self.model)

    async def delete(self, chunk_ids: list[int]) -> None:
        await self.vectors.delete(chunk_ids)
        if self.pgvector is not None:
            await self.pgvector.delete(chunk_ids)

    def describe(self) -> str:
        searcher = self.searcher.describe()
        if self.note:
            searcher = f"{searcher} ({self.note})"
        return f"hybrid search: {searcher}, embeddings from {self.embedder.label}"

    async def backfill(self) -> int:
        """Embed the chunks of finished files that have no vector from this model (files
        ingested before an embedding model was set, or under another one); the number done.

        Safe to run in several processes at once: a vector written twice is the same vector.
        """
        done = 0
        if self.pgvector is not None:
            await self.pgvector.copy_missing(self.model)
        while True:
            chunks = await self.vectors.unembedded(self.model, BACKFILL_PAGE)
            if not chunks:
                return done
            await self.index(chunks)
            done += len(chunks)

    def start_backfill(self) -> None:
        """Run ``backfill`` in the background of this process (``kithost serve``)."""
        if self._backfill is None:
            self._backfill = asyncio.create_task(self._backfill_once(), name="vector-backfill")

    async def _backfill_once(self) -> None:
        try:
            done = await self.backfill()
        except EmbeddingFailed as failure:
            log.warning("chunks without vectors stay keyword-only for now: %s", failure)
            return
        except Exception:
            log.exception("making vectors for chunks that have none failed")
            return
        if done:
            log.info("made vectors with %s for %d chunks that had none", self.model, done)

    async def close(self) -> None:
        if self._backfill is not None:
            self._backfill.cancel()
            await asyncio.gather(self._backfill, return_exceptions=True)
        await self.embedder.close()
        close = getattr(self.searcher, "close", None)
        if close is not None:
            await close()


@dataclass(frozen=True)
class IndexChoice:
    index: EmbeddingIndex | None
    description: str
    """For the start banner: what searches, or why search is keyword-only."""


def embedding_settings(settings: Settings) -> EmbeddingSettings | None:
    model = (settings.embedding_model or "").strip()
    if not model:
        return None
    return EmbeddingSettings(
        model=model,
        dimensions=settings.embedding_dimensions,
        batch_size=settings.embedding_batch_size,
    )


async def open_vector_index(
    settings: Settings, provider: ProviderConfig, engine: AsyncEngine
) -> IndexChoice:
    """The vector index these settings and this database allow (or none, and why)."""
    wanted = embedding_settings(settings)
    if wanted is None:
        return IndexChoice(None, "keyword search only (set KITHOST_EMBEDDING_MODEL for hybrid)")
    if not provider.configured:
        return IndexChoice(
            None,
            "keyword search only: KITHOST_EMBEDDING_MODEL is set but no model provider is "
            "(OPENAI_API_KEY or OPENAI_BASE_URL)",
        )
    embedder = Embedder(provider, wanted)
    vectors = ChunkVectors(engine)
    searcher, pgvector, note = await _searcher(engine, vectors)
    index = EmbeddingIndex(embedder, vectors, searcher, pgvector, note)
    return IndexChoice(index, index.describe())


async def _searcher(
    engine: AsyncEngine, vectors: ChunkVectors
) -> tuple[Searcher, PgVectorSearch | None, str]:
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            await vectors.add_stamp_index()
            return ExactSearch(vectors), None, "an in-memory SQLite database"
        try:
            return SqliteVecSearch(Path(database)), None, ""
        except SqliteVecUnavailable as reason:
            log.warning("sqlite-vec unavailable (%s): similarity computed in process", reason)
            await vectors.add_stamp_index()
            return ExactSearch(vectors), None, str(reason)
    try:
        version = await enable_pgvector(engine)
    except PgVectorUnavailable as reason:
        log.warning("%s: vector similarity computed in process", reason)
        await vectors.add_stamp_index()
        return ExactSearch(vectors), None, str(reason)
    pgvector = PgVectorSearch(engine, version)
    return pgvector, pgvector, ""
