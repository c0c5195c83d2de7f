"""Chunk embeddings: the ``chunk_embeddings`` rows, and similarity computed in this process.

Every chunk's vector is kept here, as little-endian float32 bytes of a unit vector, whatever
searches it: on SQLite sqlite-vec reads these rows; on PostgreSQL pgvector keeps a copy in a
``vector`` column; without either, ``ExactSearch`` below reads them into memory (a store's
matrix stays cached while no vector of it changes) and ranks them with one matrix product.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.retrieval.models import Chunk
from kithost.store.tables import chunk_embeddings, vector_store_chunks, vector_store_files

log = logging.getLogger("kithost.retrieval")

Vectors = NDArray[np.float32]
Ranked = list[tuple[int, float]]
# Made at start where vectors are ranked in process (a dialect-neutral index, outside the
# migrations like every search_index_ object: see store.tables.DERIVED_PREFIX).
STAMP_INDEX = "search_index_chunk_embeddings_stamp"

# Rows read per round trip when a store's vectors are loaded or copied.
PAGE = 5000


def to_bytes(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, dimensions: int) -> Vectors:
    return np.frombuffer(data, dtype="<f4", count=dimensions).astype(np.float32)


def similarity(cosine_distance: float) -> float:
    """A cosine distance (0 … 2) as a similarity score in [0, 1]."""
    return max(0.0, min(1.0, 1.0 - cosine_distance / 2.0))


class ChunkVectors:
    """Reads and writes ``chunk_embeddings``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(
        self, conn: AsyncConnection, chunks: Sequence[Chunk], vectors: Vectors, model: str
    ) -> None:
        """Store one vector per chunk (replacing a vector from another model)."""
        rows = [
            {
                "chunk_id": chunk.id,
                "vector_store_id": chunk.vector_store_id,
                "model": model,
                "dimensions": int(vectors.shape[1]),
                "embedding": to_bytes(vector),
            }
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        if not rows:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(chunk_embeddings)
        statement = statement.on_conflict_do_update(
            index_elements=["chunk_id"],
            set_={
                name: statement.excluded[name]
                for name in ("vector_store_id", "model", "dimensions", "embedding")
            },
        )
        await conn.execute(statement, rows)

    async def delete(self, chunk_ids: Sequence[int]) -> None:
        for start in range(0, len(chunk_ids), PAGE):
            part = list(chunk_ids[start : start + PAGE])
            async with self.engine.begin() as conn:
                await conn.execute(
                    delete(chunk_embeddings).where(chunk_embeddings.c.chunk_id.in_(part))
                )

    async def add_stamp_index(self) -> None:
        """An index that answers ``stamp`` alone (an index-only scan): reading the rows, each
        with its vector, costs milliseconds per search at ten thousand chunks."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS {STAMP_INDEX} "
                        "ON chunk_embeddings (vector_store_id, chunk_id)"
                    )
                )
        except DBAPIError:
            log.info("%s: made by another process at the same time", STAMP_INDEX)

    async def stamp(self, store_id: str) -> tuple[int, int]:
        """(count, highest chunk id) of a store's vectors: changes whenever one is added or
        removed, since chunk ids only grow (a model's vectors replace another's only when the
        setting changes, which restarts the process and its cache)."""
        query = select(func.count(), func.coalesce(func.max(chunk_embeddings.c.chunk_id), 0)).where(
            chunk_embeddings.c.vector_store_id == store_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return int(row[0]), int(row[1])

    async def load(
        self, store_id: str, model: str, dimensions: int
    ) -> tuple[NDArray[np.int64], Vectors]:
        """Every vector of a store: chunk ids and one row per chunk."""
        ids: list[int] = []
        blobs: list[bytes] = []
        after = 0
        async with self.engine.connect() as conn:
            while True:
                query = (
                    select(chunk_embeddings.c.chunk_id, chunk_embeddings.c.embedding)
                    .where(
                        chunk_embeddings.c.vector_store_id == store_id,
                        chunk_embeddings.c.model == model,
                        chunk_embeddings.c.dimensions == dimensions,
                        chunk_embeddings.c.chunk_id > after,
                    )
                    .order_by(chunk_embeddings.c.chunk_id)
                    .limit(PAGE)
                )
                rows = (await conn.execute(query)).all()
                if not rows:
                    break
                ids.extend(int(row[0]) for row in rows)
                blobs.extend(bytes(row[1]) for row in rows)
                after = ids[-1]
        matrix = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32)
        return np.asarray(ids, dtype=np.int64), matrix.reshape(len(ids), dimensions)

    async def unembedded(self, model: str, limit: int) -> list[Chunk]:
        """Chunks of finished files that have no vector from ``model`` (a model set or changed
        after they were ingested)."""
        query = (
            select(
                vector_store_chunks.c.id,
                vector_store_chunks.c.vector_store_id,
                vector_store_chunks.c.file_id,
                vector_store_chunks.c.chunk_index,
                vector_store_chunks.c.text,
                vector_store_chunks.c.token_count,
            )
            .join(
                vector_store_files,
                (vector_store_files.c.vector_store_id == vector_store_chunks.c.vector_store_id)
                & (vector_store_files.c.id == vector_store_chunks.c.file_id),
            )
            .outerjoin(
                chunk_embeddings,
                (chunk_embeddings.c.chunk_id == vector_store_chunks.c.id)
                & (chunk_embeddings.c.model == model),
            )
            .where(
                vector_store_files.c.status == "completed", chunk_embeddings.c.chunk_id.is_(None)
            )
            .order_by(vector_store_chunks.c.vector_store_id, vector_store_chunks.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Chunk(int(r[0]), r[1], r[2], int(r[3]), r[4], int(r[5])) for r in rows]


@dataclass
class _Cached:
    stamp: tuple[int, int]
    ids: NDArray[np.int64]
    matrix: Vectors

    @property
    def size(self) -> int:
        return int(self.matrix.nbytes + self.ids.nbytes)


class ExactSearch:
    """Cosine similarity in this process, for databases without a vector extension.

    Each store's vectors are read once and kept (least recently used first out, within
    ``budget_bytes``); a cheap count per search tells whether they changed, so several
    processes stay right without telling each other anything.
    """

    def __init__(self, vectors: ChunkVectors, budget_bytes: int = 512 * 1024 * 1024) -> None:
        self.vectors = vectors
        self.budget_bytes = budget_bytes
        self._cache: OrderedDict[tuple[str, str, int], _Cached] = OrderedDict()
        self._locks: dict[tuple[str, str, int], asyncio.Lock] = {}

    def describe(self) -> str:
        return "exact similarity in process"

    async def nearest(
        self,
        store_ids: Sequence[str],
        query: Vectors,
        limit: int,
        allowed: Collection[int] | None,
        model: str,
    ) -> Ranked:
        dimensions = int(query.shape[0])
        ranked: Ranked = []
        if limit <= 0:
            return ranked
        allowed_ids = None if allowed is None else np.fromiter(allowed, dtype=np.int64)
        for store_id in dict.fromkeys(store_ids):
            cached = await self._matrix(store_id, model, dimensions)
            if cached is None or not len(cached.ids):
                continue
            # einsum, not BLAS: OpenBLAS hands a product this small to its other threads,
            # whose wake-ups cost milliseconds on a busy machine (0.4 ms p50, 8 ms p90 here).
            scores = np.einsum("ij,j->i", cached.matrix, query)
            ids = cached.ids
            if allowed_ids is not None:
                keep = np.isin(ids, allowed_ids)
                scores, ids = scores[keep], ids[keep]
            ranked.extend(_top(ids, scores, limit))
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return ranked[:limit]

    async def _matrix(self, store_id: str, model: str, dimensions: int) -> _Cached | None:
        key = (store_id, model, dimensions)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one load per store at a time, however many searches wait
            stamp = await self.vectors.stamp(store_id)
            cached = self._cache.get(key)
            if cached is not None and cached.stamp == stamp:
                self._cache.move_to_end(key)
                return cached
            if stamp[0] == 0:
                self._cache.pop(key, None)
                return None
            ids, matrix = await self.vectors.load(store_id, model, dimensions)
            fresh = _Cached(stamp, ids, matrix)
            self._cache[key] = fresh
            self._evict()
            return fresh

    def _evict(self) -> None:
        # The newest entry stays even when it alone is over budget: it is in use.
        while (
            len(self._cache) > 1 and sum(c.size for c in self._cache.values()) > self.budget_bytes
        ):
            self._cache.popitem(last=False)


def _top(ids: NDArray[np.int64], scores: NDArray[np.float32], limit: int) -> Ranked:
    if len(ids) > limit:
        best = np.argpartition(-scores, limit - 1)[:limit]
        ids, scores = ids[best], scores[best]
    # Scores are cosines of unit vectors: -1 … 1, reported as 0 … 1.
    return [
        (int(chunk_id), similarity(1.0 - float(score)))
        for chunk_id, score in zip(ids, scores, strict=True)
    ]
