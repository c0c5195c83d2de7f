"""The embedding hook: what ingestion and search need from a vector index (built by settings).

Without ``KITHOST_EMBEDDING_MODEL`` there is no index and search is keyword-only.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from kithost.retrieval.models import Chunk


class VectorIndex(Protocol):
    async def index(self, chunks: list[Chunk]) -> None:
        """Embed and store ``chunks``: a batch of one file's chunks in one store (a big file comes
        in several calls); raise to fail the file."""

    async def nearest(
        self,
        store_ids: list[str],
        query_text: str,
        limit: int,
        allowed_chunk_ids: Collection[int] | None,
    ) -> list[tuple[int, float]]:
        """The ``limit`` chunks closest to the query, as (chunk id, similarity in [0, 1]),
        best first, among ``store_ids`` and (when given) only ``allowed_chunk_ids``."""

    async def delete(self, chunk_ids: list[int]) -> None:
        """Forget these chunks' vectors (the chunk rows themselves are removed by the caller)."""

    def describe(self) -> str:
        """One line for the start banner, e.g. 'sqlite-vec, text-embedding-3-small'."""
