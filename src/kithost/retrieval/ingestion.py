"""The ingestion worker: turns queued files into chunks, in the background, across restarts.

A file added to a store is a row with status ``in_progress``. Any process running a worker
claims such a row with a lease (a conditional UPDATE, so two processes never take the same
row), renews the lease while it works, and ends the row ``completed`` or ``failed``. A process
that dies leaves its lease to lapse; the next worker to look (in this process after a restart,
or in another one) takes the file over and starts it again from its bytes. A file whose
ingestion was interrupted ``MAX_ATTEMPTS`` times ends ``failed`` rather than being retried
forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator

from kithost.core.blobs import BlobStorage
from kithost.retrieval.chunking import chunk_text, strategy_from_wire
from kithost.retrieval.models import FileError, FileStatus
from kithost.retrieval.parsers import FileProblem, extract_text
from kithost.retrieval.vectors import VectorIndex
from kithost.store.vector_stores import Job, VectorStoreRepository

log = logging.getLogger("kithost.retrieval")

LEASE_SECONDS = 30.0
POLL_SECONDS = 2.0
MAX_ATTEMPTS = 3
# Chunks written (and embedded) per transaction: bounds memory on big files.
CHUNK_BATCH = 128


class LeaseLost(Exception):
    """The job was cancelled, deleted or taken over while this worker held it."""


class IngestionWorker:
    def __init__(
        self,
        repo: VectorStoreRepository,
        blobs: BlobStorage,
        index: VectorIndex | None,
        *,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._repo = repo
        self._blobs = blobs
        self._index = index
        self._lease = lease_seconds
        self._poll = poll_seconds
        # Host and pid say who holds a file (the pid lets a test kill that very process).
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="kithost-ingestion")

    def wake(self) -> None:
        """New work was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database hiccup: log it and try again at the next poll.
                log.exception("file ingestion: the worker failed; retrying")
                worked = False
            if not worked:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()

    async def run_once(self) -> bool:
        """Claim and process one queued file; False when there was none."""
        job = await self._repo.claim(self.owner, time.time(), self._lease)
        if job is None:
            return False
        if job.attempts > MAX_ATTEMPTS:
            await self._finish(
                job,
                "failed",
                FileError(
                    "server_error",
                    f"Ingestion of '{job.filename}' was interrupted {MAX_ATTEMPTS} times (the "
                    "server stopped while reading it). Remove the file and add it again.",
                ),
                0,
            )
            return True
        renewal = asyncio.create_task(self._renew(job))
        work = asyncio.create_task(self._ingest(job))
        try:
            done, _pending = await asyncio.wait(
                {renewal, work}, return_when=asyncio.FIRST_COMPLETED
            )
            if work not in done:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                    await work
                log.info("file ingestion: %s left to another worker", job.file_id)
                return True
            status, error, usage = work.result()
        except LeaseLost:
            return True
        except asyncio.CancelledError:
            # The server is stopping: hand the file back so that the next start takes it now.
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            with contextlib.suppress(Exception):
                await asyncio.shield(self._repo.release(job, self.owner))
            raise
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                await renewal
        await self._finish(job, status, error, usage)
        return True

    async def _finish(
        self, job: Job, status: FileStatus, error: FileError | None, usage: int
    ) -> None:
        if not await self._repo.finish(job, self.owner, status, error, usage):
            return  # cancelled or removed meanwhile: nothing to report
        if error is None:
            log.info("file ingestion: %s in %s %s", job.file_id, job.vector_store_id, status)
        else:
            log.warning(
                "file ingestion: %s in %s failed: %s",
                job.file_id,
                job.vector_store_id,
                error.message,
            )

    async def _renew(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if not await self._repo.renew(job, self.owner, time.time() + self._lease):
                raise LeaseLost

    async def _ingest(self, job: Job) -> tuple[FileStatus, FileError | None, int]:
        try:
            data = await self._blobs.read(job.file_id)
        except FileNotFoundError:
            missing = (
                "The file's bytes are missing from this server's KITHOST_DATA_DIR (processes "
                "that share a database must share it too)."
            )
            return "failed", FileError("server_error", missing), 0
        try:
            text = await asyncio.to_thread(extract_text, job.filename, data)
        except FileProblem as problem:
            return "failed", FileError(problem.code, problem.message), 0
        del data
        # A previous attempt (a crash, a restart) may have left chunks behind.
        await self._forget_chunks(job)
        chunks = chunk_text(text, strategy_from_wire(job.chunking_strategy))
        usage = 0
        index = 0
        try:
            while batch := await asyncio.to_thread(_take, chunks, CHUNK_BATCH):
                stored = await self._repo.add_chunks(job.vector_store_id, job.file_id, index, batch)
                index += len(stored)
                usage += sum(len(chunk.text.encode()) for chunk in stored)
                if self._index is not None:
                    await self._index.index(stored)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("file ingestion: indexing %s failed", job.file_id)
            await self._forget_chunks(job)
            return "failed", FileError("server_error", f"Indexing the file failed: {exc}"), 0
        return "completed", None, usage

    async def _forget_chunks(self, job: Job) -> None:
        old = await self._repo.chunk_ids(job.vector_store_id, job.file_id)
        if old and self._index is not None:
            await self._index.delete(old)
        if old:
            await self._repo.clear_chunks(job.vector_store_id, job.file_id)


def _take(chunks: Iterator[tuple[str, int]], size: int) -> list[tuple[str, int]]:
    return list(itertools.islice(chunks, size))
