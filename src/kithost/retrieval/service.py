"""``Retrieval``: files, vector stores, ingestion and search, for the API, the CLI and tools.

Built in ``services.py`` as ``Services.retrieval``. The ingestion worker runs only where
``start_worker()`` was called (``kithost serve``, and CLI commands that ingest); without a
worker, queued files wait for a process that has one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.blobs import BlobStorage, TooLarge
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.metadata import check_metadata
from kithost.core.pagination import ListParams, Page
from kithost.observability import metrics
from kithost.retrieval import hybrid, ids
from kithost.retrieval.chunking import parse_strategy
from kithost.retrieval.filters import check_attributes, check_filter, matches
from kithost.retrieval.hybrid import fuse, hybrid_weights, vector_ranking
from kithost.retrieval.ingestion import LEASE_SECONDS, IngestionWorker
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
from kithost.store.keyword_search import keyword_ranking
from kithost.store.vector_stores import VectorStoreRepository

# Keeps "not given" apart from an explicit null in updates.
UNSET: Any = object()

PURPOSES = ("assistants", "user_data")
MAX_FILE_BYTES = 512 * 1024 * 1024  # OpenAI's limit for one file
MAX_RESULTS = 50


def file_not_found(file_id: str) -> NotFound:
    return NotFound(f"No such File object: {file_id}", param="id")


def store_not_found(store_id: str) -> NotFound:
    return NotFound(f"No vector store found with id '{store_id}'.", param="vector_store_id")


class Retrieval:
    def __init__(
        self,
        engine: AsyncEngine,
        blobs: BlobStorage,
        index: VectorIndex | None = None,
        *,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.index = index
        self.repo = VectorStoreRepository(engine)
        self.worker = IngestionWorker(self.repo, blobs, index, lease_seconds=lease_seconds)
        self._worker_started = False

    @property
    def search_mode(self) -> SearchMode:
        return "keyword" if self.index is None else "hybrid"

    # -- lifecycle ---------------------------------------------------------------------------
    def start_worker(self) -> None:
        """Process queued files in the background, in this process, until ``close()``."""
        self.worker.start()
        self._worker_started = True

    async def close(self) -> None:
        """Stop the worker; files it held go back to the queue when their lease lapses."""
        await self.worker.stop()

    async def wait_idle(self, store_id: str | None = None) -> None:
        """Return once no file (of ``store_id``, or anywhere) is ``in_progress``; bound it
        with ``asyncio.timeout``."""
        # Polls the database: the worker doing the work may be another process.
        while await self.repo.pending_count(store_id):  # noqa: ASYNC110
            await asyncio.sleep(0.2)

    # -- files -------------------------------------------------------------------------------
    async def upload_file(
        self,
        filename: str,
        data: bytes | AsyncIterator[bytes],
        purpose: str,
        max_bytes: int = MAX_FILE_BYTES,
    ) -> StoredFile:
        if purpose not in PURPOSES:
            raise InvalidRequest(
                f"Invalid value: '{purpose}'. kithost keeps files for file search: supported "
                f"values are {' and '.join(repr(p) for p in PURPOSES)}.",
                param="purpose",
                code="invalid_value",
            )
        name = filename.strip() or "upload"
        if "\x00" in name or len(name) > 1024:
            raise InvalidRequest(
                "Invalid file name: it is longer than 1024 characters or contains NUL.",
                param="file",
                code="invalid_value",
            )
        file_id = ids.file_id()
        digest = hashlib.sha256()

        async def chunks() -> AsyncIterator[bytes]:
            if isinstance(data, bytes):
                digest.update(data)
                yield data
                return
            async for part in data:
                digest.update(part)
                yield part

        try:
            size = await self.blobs.write(file_id, chunks(), max_bytes)
        except TooLarge:
            raise InvalidRequest(
                f"The file is larger than {max_bytes} bytes ({max_bytes / (1024 * 1024):g} MB).",
                param="file",
                code="file_too_large",
            ) from None
        metrics.uploaded("files", size)
        record = StoredFile(file_id, name, size, purpose, time.time(), digest.hexdigest())
        try:
            await self.repo.add_file(record)
        except BaseException:
            await self.blobs.delete(file_id)
            raise
        return record

    async def get_file(self, file_id: str) -> StoredFile:
        record = (
            await self.repo.get_file(file_id) if ids.looks_like(ids.FILE_PREFIX, file_id) else None
        )
        if record is None:
            raise file_not_found(file_id)
        return record

    async def file_bytes(self, file_id: str) -> bytes:
        await self.get_file(file_id)
        return await self.blobs.read(file_id)

    async def list_files(self, params: ListParams, purpose: str | None = None) -> Page[StoredFile]:
        return await self.repo.list_files(params, purpose)

    async def delete_file(self, file_id: str) -> None:
        """Remove the file from every store (chunks and vectors), then its bytes."""
        await self.get_file(file_id)
        await self._drop_vectors(await self.repo.chunk_ids(None, file_id))
        if not await self.repo.delete_file(file_id):
            raise file_not_found(file_id)
        await self.blobs.delete(file_id)

    async def _drop_vectors(self, chunk_ids: list[int]) -> None:
        if chunk_ids and self.index is not None:
            await self.index.delete(chunk_ids)

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
        checked_metadata = check_metadata(metadata)
        strategy = parse_strategy(chunking_strategy).to_wire()
        entries = [BatchEntry(file_id) for file_id in file_ids or []] + list(files or [])
        await self._check_entries(entries)
        if store_id is not None and not ids.looks_like(ids.STORE_PREFIX, store_id):
            raise InvalidRequest(
                f"Invalid vector store id '{store_id}': expected 'vs_' and letters or digits.",
                param="store_id",
                code="invalid_value",
            )
        new_id = store_id or ids.store_id()
        now = time.time()
        days = expires_after.days if expires_after else None
        if not await self.repo.add_store(new_id, name or "", checked_metadata, days, now):
            raise InvalidRequest(
                f"A vector store with id '{new_id}' already exists.",
                param="store_id",
                code="duplicate_id",
            )
        for entry in entries:
            await self._queue(new_id, entry, strategy, None, now)
        return await self.get_store(new_id)

    async def _check_entries(self, entries: list[BatchEntry], per_file: bool = False) -> None:
        """``per_file``: the request listed ``files`` (errors name ``files[n].…``)."""
        wanted = [entry.file_id for entry in entries]
        for n, entry in enumerate(entries):
            if not isinstance(entry.file_id, str) or not ids.looks_like(
                ids.FILE_PREFIX, entry.file_id
            ):
                raise file_not_found(str(entry.file_id))
            prefix = f"files[{n}]." if per_file else ""
            check_attributes(entry.attributes, f"{prefix}attributes")
            parse_strategy(entry.chunking_strategy, f"{prefix}chunking_strategy")
        found = await self.repo.existing_file_ids(wanted) if wanted else set()
        for file_id in wanted:
            if file_id not in found:
                raise file_not_found(file_id)

    async def _queue(
        self,
        store_id: str,
        entry: BatchEntry,
        default_strategy: dict[str, Any],
        batch_id: str | None,
        now: float,
    ) -> bool:
        strategy = (
            parse_strategy(entry.chunking_strategy).to_wire()
            if entry.chunking_strategy is not None
            else default_strategy
        )
        added = await self.repo.add_store_file(
            store_id,
            entry.file_id,
            check_attributes(entry.attributes),
            strategy,
            batch_id,
            now,
        )
        if added:
            self.worker.wake()
        return added

    async def get_store(self, store_id: str) -> VectorStore:
        store = (
            await self.repo.get_store(store_id, time.time())
            if ids.looks_like(ids.STORE_PREFIX, store_id)
            else None
        )
        if store is None:
            raise store_not_found(store_id)
        return store

    async def list_stores(self, params: ListParams) -> Page[VectorStore]:
        return await self.repo.list_stores(params, time.time())

    async def update_store(
        self,
        store_id: str,
        name: str | None = UNSET,
        metadata: dict[str, str] | None = UNSET,
        expires_after: ExpiresAfter | None = UNSET,
    ) -> VectorStore:
        await self.get_store(store_id)
        values: dict[str, Any] = {}
        if name is not UNSET and name is not None:
            values["name"] = name
        if metadata is not UNSET:
            values["metadata"] = check_metadata(metadata)
        if expires_after is not UNSET:
            values["expires_after_days"] = expires_after.days if expires_after else None
            # The expiry runs from the last activity: changing the policy counts as one.
            values["last_active_at"] = time.time()
        if values:
            await self.repo.update_store(store_id, values)
        return await self.get_store(store_id)

    async def delete_store(self, store_id: str) -> None:
        await self.get_store(store_id)
        await self._drop_vectors(await self.repo.chunk_ids(store_id, None))
        if not await self.repo.delete_store(store_id):
            raise store_not_found(store_id)

    # -- files in stores ---------------------------------------------------------------------
    async def add_file(
        self,
        store_id: str,
        file_id: str,
        attributes: Attributes | None = None,
        chunking_strategy: dict[str, Any] | None = None,
    ) -> VectorStoreFile:
        """Queue the file for ingestion into the store (adding it twice is harmless: the
        second call returns the first one's entry)."""
        await self.get_store(store_id)
        entry = BatchEntry(file_id, attributes, chunking_strategy)
        await self._check_entries([entry])
        await self._queue(store_id, entry, parse_strategy(None).to_wire(), None, time.time())
        return await self.get_store_file(store_id, file_id)

    async def get_store_file(self, store_id: str, file_id: str) -> VectorStoreFile:
        await self.get_store(store_id)
        found = (
            await self.repo.get_store_file(store_id, file_id)
            if ids.looks_like(ids.FILE_PREFIX, file_id)
            else None
        )
        if found is None:
            raise NotFound(
                f"No file found with id '{file_id}' in vector store '{store_id}'.", param="file_id"
            )
        return found

    async def update_store_file(
        self, store_id: str, file_id: str, attributes: Attributes | None
    ) -> VectorStoreFile:
        await self.get_store_file(store_id, file_id)
        await self.repo.set_attributes(store_id, file_id, check_attributes(attributes))
        return await self.get_store_file(store_id, file_id)

    async def list_store_files(
        self,
        store_id: str,
        params: ListParams,
        status: FileStatus | None = None,
        batch_id: str | None = None,
    ) -> Page[VectorStoreFile]:
        await self.get_store(store_id)
        return await self.repo.list_store_files(store_id, params, status, batch_id)

    async def remove_store_file(self, store_id: str, file_id: str) -> None:
        await self.get_store_file(store_id, file_id)
        await self._drop_vectors(await self.repo.chunk_ids(store_id, file_id))
        await self.repo.remove_store_file(store_id, file_id)

    async def file_chunks(self, store_id: str, file_id: str) -> list[Chunk]:
        await self.get_store_file(store_id, file_id)
        return await self.repo.file_chunks(store_id, file_id)

    async def create_batch(
        self, store_id: str, files: list[BatchEntry], per_file: bool = False
    ) -> FileBatch:
        """``per_file``: the request listed ``files`` with their own settings."""
        await self.get_store(store_id)
        if not files:
            raise InvalidRequest(
                "Provide 'file_ids' or 'files' with at least one file.",
                param="file_ids",
                code="missing_required_parameter",
            )
        await self._check_entries(files, per_file)
        batch_id = ids.batch_id()
        now = time.time()
        await self.repo.add_batch(batch_id, store_id, now)
        default = parse_strategy(None).to_wire()
        for entry in files:
            await self._queue(store_id, entry, default, batch_id, now)
        return await self.get_batch(store_id, batch_id)

    async def get_batch(self, store_id: str, batch_id: str) -> FileBatch:
        await self.get_store(store_id)
        batch = (
            await self.repo.get_batch(store_id, batch_id)
            if ids.looks_like(ids.BATCH_PREFIX, batch_id)
            else None
        )
        if batch is None:
            raise NotFound(
                f"No file batch found with id '{batch_id}' in vector store '{store_id}'.",
                param="batch_id",
            )
        return batch

    async def cancel_batch(self, store_id: str, batch_id: str) -> FileBatch:
        await self.get_batch(store_id, batch_id)
        await self.repo.cancel_batch(store_id, batch_id)
        return await self.get_batch(store_id, batch_id)

    # -- moving over from OpenAI -------------------------------------------------------------
    async def expect_files(self, store_id: str, files: list[ExpectedFile]) -> None:
        """Record files the hosted store had, for ``vector-stores add`` to match by name."""
        await self.get_store(store_id)
        await self.repo.add_expected(
            [
                ExpectedFile(
                    store_id,
                    item.filename,
                    check_attributes(item.attributes),
                    item.hosted_file_id,
                )
                for item in files
            ]
        )

    async def expected_files(self, store_id: str) -> list[ExpectedFile]:
        await self.get_store(store_id)
        return await self.repo.expected(store_id)

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
        queries = [query] if isinstance(query, str) else list(query)
        if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
            raise InvalidRequest(
                "Invalid 'query': expected a non-empty string or array of strings.",
                param="query",
                code="invalid_value",
            )
        if not 1 <= max_num_results <= MAX_RESULTS:
            raise InvalidRequest(
                f"Invalid 'max_num_results': expected a value between 1 and {MAX_RESULTS}, "
                f"but got {max_num_results} instead.",
                param="max_num_results",
                code="invalid_value",
            )
        threshold = _score_threshold(ranking_options)
        weights = hybrid_weights(ranking_options)  # refuses malformed weights before any work
        if filters is not None:
            check_filter(filters)
        for store_id in dict.fromkeys(store_ids):
            await self.get_store(store_id)
        stores = list(dict.fromkeys(store_ids))
        await self.repo.touch_stores(stores, time.time())

        candidates = {
            (item.vector_store_id, item.id): item
            for item in await self.repo.searchable_files(stores)
        }
        if filters is not None:
            candidates = {
                key: item for key, item in candidates.items() if matches(filters, item.attributes)
            }
        text = "\n".join(queries)
        mode: SearchMode = "keyword"
        if not candidates:
            return SearchResults([], queries, self.search_mode)
        file_ids = sorted({file_id for _store, file_id in candidates}) if filters else None
        limit = hybrid.candidates(max_num_results)
        vector = None
        if self.index is None:
            keyword = await keyword_ranking(self.engine, stores, text, limit, file_ids)
        else:
            allowed = (
                await self.repo.chunk_ids_of_files(list(candidates))
                if filters is not None
                else None
            )
            # Both rankings at once, each on its own connection (the query's embedding is a
            # round trip to the provider): the slower one sets the time, not their sum.
            keyword, vector = await asyncio.gather(
                keyword_ranking(self.engine, stores, text, limit, file_ids),
                vector_ranking(self.index, stores, queries, limit, allowed),
            )
        if filters:
            # A file in two stores may pass the filter in one only: check the chunk's own pair.
            keyword = await self._only(keyword, candidates)
        if vector is None:
            # No embedding model, or it failed just now: keywords alone, and said so.
            ranked = keyword[:max_num_results]
        else:
            mode = "hybrid"
            ranked = fuse(keyword, vector, max_num_results, weights)
        ranked = [(chunk_id, score) for chunk_id, score in ranked if score >= threshold]
        chunks = await self.repo.chunks([chunk_id for chunk_id, _ in ranked])
        hits: list[SearchHit] = []
        for chunk_id, score in ranked:
            chunk = chunks.get(chunk_id)
            item = candidates.get((chunk.vector_store_id, chunk.file_id)) if chunk else None
            if chunk is None or item is None:
                continue  # removed since it was ranked
            hits.append(
                SearchHit(
                    file_id=chunk.file_id,
                    filename=item.filename,
                    score=round(score, 6),
                    attributes=item.attributes,
                    chunks=[chunk.text],
                    vector_store_id=chunk.vector_store_id,
                    chunk_ids=[chunk.id],
                )
            )
        return SearchResults(hits, queries, mode)

    async def _only(
        self, ranking: list[tuple[int, float]], allowed: dict[tuple[str, str], VectorStoreFile]
    ) -> list[tuple[int, float]]:
        chunks = await self.repo.chunks([chunk_id for chunk_id, _ in ranking])
        return [
            (chunk_id, score)
            for chunk_id, score in ranking
            if chunk_id in chunks
            and (chunks[chunk_id].vector_store_id, chunks[chunk_id].file_id) in allowed
        ]


def _score_threshold(options: dict[str, Any] | None) -> float:
    if options is None:
        return 0.0
    if not isinstance(options, dict):
        raise InvalidRequest(
            "Invalid type for 'ranking_options': expected an object.",
            param="ranking_options",
            code="invalid_type",
        )
    ranker = options.get("ranker", "auto")
    if ranker not in ("none", "auto", "default-2024-11-15"):
        raise InvalidRequest(
            f"Invalid value: '{ranker}'. Supported values are: 'none', 'auto' and "
            "'default-2024-11-15'.",
            param="ranking_options.ranker",
            code="invalid_value",
        )
    threshold = options.get("score_threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidRequest(
            "Invalid type for 'ranking_options.score_threshold': expected a number.",
            param="ranking_options.score_threshold",
            code="invalid_type",
        )
    if not 0.0 <= threshold <= 1.0:
        raise InvalidRequest(
            "Invalid 'ranking_options.score_threshold': expected a value between 0 and 1.",
            param="ranking_options.score_threshold",
            code="invalid_value",
        )
    return float(threshold)
