"""``Retrieval``: files, vector stores, ingestion and search, for the API, the CLI and tools.

Seam (committed first; methods filled in by the CORE work). Built in ``services.py`` as
``Services.retrieval``; the ingestion worker runs only where ``start_worker()`` was called
(``kithost serve``, and CLI commands that ingest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.blobs import BlobStorage
from kithost.core.pagination import ListParams, Page
from kithost.retrieval.models import (
    Attributes,
    BatchEntry,
    Chunk,
    ExpectedFile,
    ExpiresAfter,
    FileBatch,
    FileStatus,
    SearchHit,
    SearchMode,
    SearchResults,
    StoredFile,
    VectorStore,
    VectorStoreFile,
)
from kithost.retrieval.vectors import VectorIndex

# Keeps "not given" apart from an explicit null in updates.
UNSET: Any = object()


class Retrieval:
    def __init__(
        self,
        engine: AsyncEngine,
        blobs: BlobStorage,
        index: VectorIndex | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.index = index

    @property
    def search_mode(self) -> SearchMode:
        return "keyword" if self.index is None else "hybrid"

    # -- lifecycle ---------------------------------------------------------------------------
    def start_worker(self) -> None:
        """Process queued files in the background, in this process, until ``close()``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the worker; files it held go back to the queue when their lease lapses."""

    async def wait_idle(self, store_id: str | None = None) -> None:
        """Return once no file (of ``store_id``, or anywhere) is ``in_progress``; bound it
        with ``asyncio.timeout``."""
        raise NotImplementedError

    # -- files -------------------------------------------------------------------------------
    async def upload_file(
        self, filename: str, data: bytes | AsyncIterator[bytes], purpose: str
    ) -> StoredFile:
        raise NotImplementedError

    async def get_file(self, file_id: str) -> StoredFile:
        raise NotImplementedError

    async def list_files(self, params: ListParams, purpose: str | None = None) -> Page[StoredFile]:
        raise NotImplementedError

    async def delete_file(self, file_id: str) -> None:
        """Remove the file from every store (chunks and vectors), then its bytes."""
        raise NotImplementedError

    # -- stores ------------------------------------------------------------------------------
    async def create_store(
        self,
        name: str | None,
        metadata: dict[str, str] | None = None,
        expires_after: ExpiresAfter | None = None,
        file_ids: list[str] | None = None,
        store_id: str | None = None,
        chunking_strategy: dict[str, Any] | None = None,
        files: list[BatchEntry] | None = None,
    ) -> VectorStore:
        """``store_id`` keeps a hosted ``vs_`` id (``kithost import``); it must be new here."""
        raise NotImplementedError

    async def get_store(self, store_id: str) -> VectorStore:
        raise NotImplementedError

    async def list_stores(self, params: ListParams) -> Page[VectorStore]:
        raise NotImplementedError

    async def update_store(
        self,
        store_id: str,
        name: str | None = UNSET,
        metadata: dict[str, str] | None = UNSET,
        expires_after: ExpiresAfter | None = UNSET,
    ) -> VectorStore:
        raise NotImplementedError

    async def delete_store(self, store_id: str) -> None:
        raise NotImplementedError

    # -- files in stores ---------------------------------------------------------------------
    async def add_file(
        self,
        store_id: str,
        file_id: str,
        attributes: Attributes | None = None,
        chunking_strategy: dict[str, Any] | None = None,
    ) -> VectorStoreFile:
        """Queue the file for ingestion into the store (adding it twice is harmless)."""
        raise NotImplementedError

    async def get_store_file(self, store_id: str, file_id: str) -> VectorStoreFile:
        raise NotImplementedError

    async def update_store_file(
        self, store_id: str, file_id: str, attributes: Attributes | None
    ) -> VectorStoreFile:
        raise NotImplementedError

    async def list_store_files(
        self,
        store_id: str,
        params: ListParams,
        status: FileStatus | None = None,
        batch_id: str | None = None,
    ) -> Page[VectorStoreFile]:
        raise NotImplementedError

    async def remove_store_file(self, store_id: str, file_id: str) -> None:
        raise NotImplementedError

    async def file_chunks(self, store_id: str, file_id: str) -> list[Chunk]:
        raise NotImplementedError

    async def create_batch(self, store_id: str, files: list[BatchEntry]) -> FileBatch:
        raise NotImplementedError

    async def get_batch(self, store_id: str, batch_id: str) -> FileBatch:
        raise NotImplementedError

    async def cancel_batch(self, store_id: str, batch_id: str) -> FileBatch:
        raise NotImplementedError

    # -- moving over from OpenAI -------------------------------------------------------------
    async def expect_files(self, store_id: str, files: list[ExpectedFile]) -> None:
        """Record files the hosted store had, for ``vector-stores add`` to match by name."""
        raise NotImplementedError

    async def expected_files(self, store_id: str) -> list[ExpectedFile]:
        raise NotImplementedError

    # -- search ------------------------------------------------------------------------------
    async def search(
        self,
        store_ids: list[str],
        query: str | list[str],
        max_num_results: int = 10,
        filters: dict[str, Any] | None = None,
        ranking_options: dict[str, Any] | None = None,
    ) -> list[SearchHit]:
        return (
            await self.search_results(store_ids, query, max_num_results, filters, ranking_options)
        ).hits

    async def search_results(
        self,
        store_ids: list[str],
        query: str | list[str],
        max_num_results: int = 10,
        filters: dict[str, Any] | None = None,
        ranking_options: dict[str, Any] | None = None,
    ) -> SearchResults:
        """``search`` with the queries as searched and the mode (keyword or hybrid)."""
        raise NotImplementedError
