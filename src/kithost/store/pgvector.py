"""Vector search on PostgreSQL with pgvector and an HNSW index, when the extension is there.

Vectors of one length live in ``search_index_pgvector_<n>`` (a copy of ``chunk_embeddings``
in pgvector's ``vector`` type, written in the same transaction; its rows go with their chunks
by ``ON DELETE CASCADE``), made on first use since the length is only known once the model
has answered. Its HNSW index uses cosine distance; vectors longer than pgvector's HNSW limit
for ``vector`` (2,000) are indexed as ``halfvec`` (up to 4,000), and longer ones are searched
exactly by pgvector. Searches use pgvector's iterative scans (0.8+): every search filters (by
store and model, and by attributes when asked), and a filter that keeps few chunks must still
get its ``limit`` results.

Table names carry only the vector length (an integer), so the SQL built here with f-strings
holds no outside text (hence the ``noqa: S608``).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.retrieval.models import Chunk
from kithost.store.chunk_vectors import PAGE, Ranked, from_bytes, similarity

log = logging.getLogger("kithost.retrieval")

HNSW_VECTOR_LIMIT = 2000
HNSW_HALFVEC_LIMIT = 4000
# HNSW's candidate list: at least the number of results asked for (pgvector's default is 40).
MAX_EF_SEARCH = 1000


class PgVectorUnavailable(RuntimeError):
    """pgvector is not installed on this PostgreSQL (or kithost may not enable it)."""


async def enable_pgvector(engine: AsyncEngine) -> str:
    """Make sure the ``vector`` extension is on in this database; its version.

    Raises ``PgVectorUnavailable`` when the server does not have it or kithost's role may not
    create it (a database owner may, for pgvector on most managed services).
    """
    async with engine.connect() as conn:
        installed = (
            await conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
        ).scalar()
        if installed:
            return str(installed)
        available = (
            await conn.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            )
        ).scalar()
    if not available:
        raise PgVectorUnavailable("the pgvector extension is not installed on this PostgreSQL")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            version = (
                await conn.execute(
                    text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                )
            ).scalar()
    except DBAPIError as error:
        reason = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
        raise PgVectorUnavailable(
            f"pgvector is installed but could not be enabled: {reason} "
            "(run CREATE EXTENSION vector as the database owner)"
        ) from None
    return str(version)


@dataclass(frozen=True)
class _Layout:
    """How vectors of one length are stored and compared."""

    dimensions: int

    @property
    def table(self) -> str:
        return f"search_index_pgvector_{self.dimensions}"

    @property
    def kind(self) -> str:
        return "halfvec" if self.dimensions > HNSW_VECTOR_LIMIT else "vector"

    @property
    def indexed(self) -> bool:
        return self.dimensions <= HNSW_HALFVEC_LIMIT

    def column(self) -> str:
        """The expression searched (and indexed)."""
        if self.kind == "vector":
            return "embedding"
        return f"(embedding::halfvec({self.dimensions}))"

    def query(self) -> str:
        return f"CAST(CAST(:query AS text) AS {self.kind}({self.dimensions}))"

    def ddl(self) -> list[str]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " chunk_id BIGINT PRIMARY KEY"
            " REFERENCES vector_store_chunks (id) ON DELETE CASCADE,"
            " vector_store_id VARCHAR(64) NOT NULL,"
            " model VARCHAR(200) NOT NULL,"
            f" embedding vector({self.dimensions}) NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_store ON {self.table} (vector_store_id)",
        ]
        if self.indexed:
            operators = f"{self.kind}_cosine_ops"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} "
                f"USING hnsw (({self.column()}) {operators})"
            )
        return statements


def _literal(vector: NDArray[np.float32]) -> str:
    """pgvector's text form, ``[0.1,0.2,…]``: asyncpg has no codec for the type itself."""
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


class PgVectorSearch:
    """Nearest chunks by cosine distance, by pgvector's HNSW index."""

    def __init__(self, engine: AsyncEngine, version: str) -> None:
        self.engine = engine
        self.version = version
        self._ready: set[int] = set()
        major, _, rest = version.partition(".")
        minor = rest.partition(".")[0]
        self.iterative_scans = (int(major), int(minor or 0)) >= (0, 8) if major.isdigit() else False

    def describe(self) -> str:
        return f"pgvector {self.version} (HNSW)"

    async def _ensure(self, conn: AsyncConnection, layout: _Layout) -> None:
        if layout.dimensions in self._ready:
            return
        # One process creates the table; others wait for it (IF NOT EXISTS races otherwise).
        key = zlib.crc32(layout.table.encode())
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        for statement in layout.ddl():
            await conn.execute(text(statement))
        self._ready.add(layout.dimensions)

    async def write(
        self,
        conn: AsyncConnection,
        chunks: Sequence[Chunk],
        vectors: NDArray[np.float32],
        model: str,
    ) -> None:
        """Copy the vectors into pgvector's table, in the caller's transaction."""
        if not chunks:
            return
        layout = _Layout(int(vectors.shape[1]))
        await self._ensure(conn, layout)
        rows = [
            {
                "chunk_id": chunk.id,
                "store": chunk.vector_store_id,
                "model": model,
                "embedding": _literal(vector),
            }
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        await conn.execute(
            text(
                f"INSERT INTO {layout.table} (chunk_id, vector_store_id, model, embedding) "  # noqa: S608
                f"VALUES (:chunk_id, :store, :model, CAST(CAST(:embedding AS text) AS "
                f"vector({layout.dimensions}))) "
                "ON CONFLICT (chunk_id) DO UPDATE SET vector_store_id = EXCLUDED.vector_store_id, "
                "model = EXCLUDED.model, embedding = EXCLUDED.embedding"
            ),
            rows,
        )

    async def delete(self, chunk_ids: Sequence[int]) -> None:
        """Remove these chunks' copies (a deleted chunk's copy also goes by cascade)."""
        if not chunk_ids:
            return
        async with self.engine.begin() as conn:
            for dimensions in await self._tables(conn):
                await conn.execute(
                    text(
                        f"DELETE FROM search_index_pgvector_{dimensions} WHERE chunk_id = ANY(:ids)"  # noqa: S608
                    ),
                    {"ids": list(chunk_ids)},
                )

    async def nearest(
        self,
        store_ids: Sequence[str],
        query: NDArray[np.float32],
        limit: int,
        allowed: Collection[int] | None,
        model: str,
    ) -> Ranked:
        if limit <= 0 or not store_ids or (allowed is not None and not allowed):
            return []
        layout = _Layout(int(query.shape[0]))
        params: dict[str, object] = {
            "query": _literal(query),
            "stores": list(dict.fromkeys(store_ids)),
            "model": model,
            "limit": limit,
        }
        where = "vector_store_id = ANY(:stores) AND model = :model"
        if allowed is not None:
            where += " AND chunk_id = ANY(:allowed)"
            params["allowed"] = [int(i) for i in allowed]
        sql = (
            f"SELECT chunk_id, {layout.column()} <=> {layout.query()} AS distance "  # noqa: S608
            f"FROM {layout.table} WHERE {where} ORDER BY distance LIMIT :limit"
        )
        async with self.engine.begin() as conn:
            if layout.dimensions not in self._ready:
                exists = (
                    await conn.execute(text("SELECT to_regclass(:name)"), {"name": layout.table})
                ).scalar()
                if exists is None:
                    return []  # nothing of this length was ever stored
                self._ready.add(layout.dimensions)
            # Every search filters (by store, model, maybe attributes): without iterative scans
            # (0.8+) HNSW filters its first ef_search candidates and may return too few.
            settings = {"ef": str(min(max(40, limit * 2), MAX_EF_SEARCH))}
            statement = "SELECT set_config('hnsw.ef_search', :ef, true)"
            if self.iterative_scans:
                statement += ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            await conn.execute(text(statement), settings)  # one round trip for both
            rows = (await conn.execute(text(sql), params)).all()
        ranked = [(int(row[0]), similarity(float(row[1]))) for row in rows]
        # relaxed_order may return neighbours slightly out of order.
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return ranked

    async def copy_missing(self, model: str) -> int:
        """Copy into pgvector the vectors ``chunk_embeddings`` has and it lacks (stored before
        pgvector was enabled); the number copied."""
        copied = 0
        async with self.engine.connect() as conn:
            lengths = (
                await conn.execute(
                    text("SELECT DISTINCT dimensions FROM chunk_embeddings WHERE model = :model"),
                    {"model": model},
                )
            ).all()
        for (dimensions,) in lengths:
            layout = _Layout(int(dimensions))
            while True:
                async with self.engine.begin() as conn:
                    await self._ensure(conn, layout)
                    rows = (
                        await conn.execute(
                            text(
                                "SELECT e.chunk_id, e.vector_store_id, e.embedding "  # noqa: S608
                                f"FROM chunk_embeddings e LEFT JOIN {layout.table} v "
                                "ON v.chunk_id = e.chunk_id AND v.model = e.model "
                                "WHERE e.model = :model AND e.dimensions = :dimensions "
                                "AND v.chunk_id IS NULL ORDER BY e.chunk_id LIMIT :page"
                            ),
                            {"model": model, "dimensions": layout.dimensions, "page": PAGE},
                        )
                    ).all()
                    if not rows:
                        break
                    chunks = [Chunk(int(r[0]), r[1], "", 0, "", 0) for r in rows]
                    vectors = np.vstack([from_bytes(bytes(r[2]), layout.dimensions) for r in rows])
                    await self.write(conn, chunks, vectors, model)
                    copied += len(rows)
        return copied

    async def _tables(self, conn: AsyncConnection) -> list[int]:
        rows = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename LIKE 'search\\_index\\_pgvector\\_%'"
                )
            )
        ).all()
        return [int(name.rsplit("_", 1)[1]) for (name,) in rows if name.rsplit("_", 1)[1].isdigit()]
