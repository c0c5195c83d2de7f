"""SQL for files, vector stores, their files (ingestion jobs with leases) and chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kithost.core.pagination import ListParams, Page
from kithost.retrieval.models import (
    Chunk,
    ExpectedFile,
    FileBatch,
    FileCounts,
    FileError,
    FileStatus,
    StoredFile,
    VectorStore,
    VectorStoreFile,
)
from kithost.store.pagination import paginate
from kithost.store.tables import (
    files,
    vector_store_chunks,
    vector_store_expected_files,
    vector_store_file_batches,
    vector_store_files,
    vector_stores,
)
from kithost.store.upsert import insert_once

STATUSES: tuple[FileStatus, ...] = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    """A claimed ingestion job: one file in one store."""

    seq: int
    vector_store_id: str
    file_id: str
    filename: str
    chunking_strategy: dict[str, Any]
    attempts: int


def _stored_file(row: Row[Any]) -> StoredFile:
    return StoredFile(
        id=row.id,
        filename=row.filename,
        bytes=int(row.bytes),
        purpose=row.purpose,
        created_at=float(row.created_at),
        sha256=row.sha256,
        expires_at=row.expires_at,
    )


def _store_file(row: Row[Any]) -> VectorStoreFile:
    error = row.last_error
    return VectorStoreFile(
        id=row.id,
        vector_store_id=row.vector_store_id,
        status=row.status,
        last_error=FileError(error["code"], error["message"]) if error else None,
        attributes=dict(row.attributes or {}),
        chunking_strategy=dict(row.chunking_strategy or {}),
        usage_bytes=int(row.usage_bytes),
        created_at=float(row.created_at),
        filename=row.filename,
        batch_id=row.batch_id,
    )


def _counts(rows: Sequence[Any]) -> dict[str, tuple[FileCounts, int]]:
    """(file counts, usage bytes) per key, from rows of (key, status, count, bytes)."""
    tally: dict[str, dict[str, int]] = {}
    for row in rows:
        key, status, count, usage = row[0], row[1], row[2], row[3]
        entry = tally.setdefault(key, {"usage": 0})
        entry[status] = entry.get(status, 0) + int(count)
        entry["usage"] += int(usage or 0)
    return {
        key: (FileCounts(**{s: entry.get(s, 0) for s in STATUSES}), entry["usage"])
        for key, entry in tally.items()
    }


_STORE_FILE_COLUMNS = (*vector_store_files.c, files.c.filename)
_STORE_FILES = vector_store_files.join(files, files.c.id == vector_store_files.c.id)


class VectorStoreRepository:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    # -- files -------------------------------------------------------------------------------
    async def add_file(self, record: StoredFile) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(files).values(
                    id=record.id,
                    filename=record.filename,
                    bytes=record.bytes,
                    purpose=record.purpose,
                    sha256=record.sha256,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )

    async def get_file(self, file_id: str) -> StoredFile | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(files).where(files.c.id == file_id))).first()
        return _stored_file(row) if row else None

    async def existing_file_ids(self, file_ids: Sequence[str]) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(files.c.id).where(files.c.id.in_(list(file_ids))))
            return {row.id for row in rows}

    async def list_files(self, params: ListParams, purpose: str | None) -> Page[StoredFile]:
        scope = select(files)
        if purpose is not None:
            scope = scope.where(files.c.purpose == purpose)
        async with self.engine.connect() as conn:
            page = await paginate(conn, files, scope, params)
        return Page([_stored_file(row) for row in page.data], page.has_more)

    async def delete_file(self, file_id: str) -> bool:
        """Delete the file row; its store entries and their chunks go with it (cascade)."""
        async with self.engine.begin() as conn:
            await self._delete_chunks(conn, vector_store_chunks.c.file_id == file_id)
            await conn.execute(delete(vector_store_files).where(vector_store_files.c.id == file_id))
            result = await conn.execute(delete(files).where(files.c.id == file_id))
        return bool(result.rowcount)

    # -- stores ------------------------------------------------------------------------------
    async def add_store(
        self,
        store_id: str,
        name: str,
        metadata: dict[str, str],
        expires_after_days: int | None,
        now: float,
    ) -> bool:
        async with self.engine.begin() as conn:
            return await insert_once(
                conn,
                vector_stores,
                {
                    "id": store_id,
                    "name": name,
                    "metadata": metadata,
                    "expires_after_days": expires_after_days,
                    "created_at": now,
                    "last_active_at": now,
                },
                key=["id"],
            )

    async def _store_counts(
        self, conn: AsyncConnection, store_ids: list[str]
    ) -> dict[str, tuple[FileCounts, int]]:
        rows = await conn.execute(
            select(
                vector_store_files.c.vector_store_id,
                vector_store_files.c.status,
                func.count(),
                func.sum(vector_store_files.c.usage_bytes),
            )
            .where(vector_store_files.c.vector_store_id.in_(store_ids))
            .group_by(vector_store_files.c.vector_store_id, vector_store_files.c.status)
        )
        return _counts(rows.all())

    @staticmethod
    def _store(row: Row[Any], counts: tuple[FileCounts, int] | None, now: float) -> VectorStore:
        from kithost.retrieval.models import ExpiresAfter

        file_counts, usage = counts or (FileCounts(), 0)
        days = row.expires_after_days
        expires_at = int(row.last_active_at + days * 86400) if days is not None else None
        status: Any = "in_progress" if file_counts.in_progress else "completed"
        if expires_at is not None and expires_at <= now:
            status = "expired"
        return VectorStore(
            id=row.id,
            name=row.name,
            metadata=dict(row.metadata or {}),
            status=status,
            file_counts=file_counts,
            usage_bytes=usage,
            created_at=float(row.created_at),
            last_active_at=float(row.last_active_at),
            expires_after=ExpiresAfter(days) if days is not None else None,
            expires_at=expires_at,
        )

    async def get_store(self, store_id: str, now: float) -> VectorStore | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(vector_stores).where(vector_stores.c.id == store_id))
            ).first()
            if row is None:
                return None
            counts = await self._store_counts(conn, [store_id])
        return self._store(row, counts.get(store_id), now)

    async def existing_store_ids(self, store_ids: Sequence[str]) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(vector_stores.c.id).where(vector_stores.c.id.in_(list(store_ids)))
            )
            return {row.id for row in rows}

    async def list_stores(self, params: ListParams, now: float) -> Page[VectorStore]:
        async with self.engine.connect() as conn:
            page = await paginate(conn, vector_stores, select(vector_stores), params)
            counts = await self._store_counts(conn, [row.id for row in page.data])
        return Page([self._store(row, counts.get(row.id), now) for row in page.data], page.has_more)

    async def update_store(self, store_id: str, values: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(vector_stores).where(vector_stores.c.id == store_id).values(**values)
            )
        return bool(result.rowcount)

    async def touch_stores(self, store_ids: list[str], now: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(vector_stores)
                .where(vector_stores.c.id.in_(store_ids))
                .values(last_active_at=now)
            )

    async def delete_store(self, store_id: str) -> bool:
        async with self.engine.begin() as conn:
            await self._delete_chunks(conn, vector_store_chunks.c.vector_store_id == store_id)
            result = await conn.execute(delete(vector_stores).where(vector_stores.c.id == store_id))
        return bool(result.rowcount)

    # -- files in stores ---------------------------------------------------------------------
    async def add_store_file(
        self,
        store_id: str,
        file_id: str,
        attributes: dict[str, Any],
        chunking_strategy: dict[str, Any],
        batch_id: str | None,
        now: float,
    ) -> bool:
        """Queue the file; False (and no change) if the store already holds it."""
        async with self.engine.begin() as conn:
            inserted = await insert_once(
                conn,
                vector_store_files,
                {
                    "id": file_id,
                    "vector_store_id": store_id,
                    "batch_id": batch_id,
                    "status": "in_progress",
                    "attributes": attributes,
                    "chunking_strategy": chunking_strategy,
                    "created_at": now,
                },
                key=["vector_store_id", "id"],
            )
            if inserted:
                # A file named like one the hosted store had takes its place (kithost import).
                name = select(files.c.filename).where(files.c.id == file_id).scalar_subquery()
                await conn.execute(
                    delete(vector_store_expected_files).where(
                        vector_store_expected_files.c.vector_store_id == store_id,
                        vector_store_expected_files.c.filename == name,
                    )
                )
        return inserted

    async def get_store_file(self, store_id: str, file_id: str) -> VectorStoreFile | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(*_STORE_FILE_COLUMNS)
                    .select_from(_STORE_FILES)
                    .where(
                        vector_store_files.c.vector_store_id == store_id,
                        vector_store_files.c.id == file_id,
                    )
                )
            ).first()
        return _store_file(row) if row else None

    async def list_store_files(
        self,
        store_id: str,
        params: ListParams,
        status: FileStatus | None,
        batch_id: str | None,
    ) -> Page[VectorStoreFile]:
        scope = (
            select(*_STORE_FILE_COLUMNS)
            .select_from(_STORE_FILES)
            .where(vector_store_files.c.vector_store_id == store_id)
        )
        if status is not None:
            scope = scope.where(vector_store_files.c.status == status)
        if batch_id is not None:
            scope = scope.where(vector_store_files.c.batch_id == batch_id)
        async with self.engine.connect() as conn:
            page = await paginate(conn, vector_store_files, scope, params)
        return Page([_store_file(row) for row in page.data], page.has_more)

    async def searchable_files(self, store_ids: list[str]) -> list[VectorStoreFile]:
        """Every completed file of these stores (the candidates of a search)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*_STORE_FILE_COLUMNS)
                .select_from(_STORE_FILES)
                .where(
                    vector_store_files.c.vector_store_id.in_(store_ids),
                    vector_store_files.c.status == "completed",
                )
            )
            return [_store_file(row) for row in rows]

    async def set_attributes(self, store_id: str, file_id: str, attributes: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.vector_store_id == store_id,
                    vector_store_files.c.id == file_id,
                )
                .values(attributes=attributes)
            )
        return bool(result.rowcount)

    async def remove_store_file(self, store_id: str, file_id: str) -> bool:
        async with self.engine.begin() as conn:
            await self._delete_chunks(
                conn,
                and_(
                    vector_store_chunks.c.vector_store_id == store_id,
                    vector_store_chunks.c.file_id == file_id,
                ),
            )
            result = await conn.execute(
                delete(vector_store_files).where(
                    vector_store_files.c.vector_store_id == store_id,
                    vector_store_files.c.id == file_id,
                )
            )
        return bool(result.rowcount)

    # -- batches -----------------------------------------------------------------------------
    async def add_batch(self, batch_id: str, store_id: str, now: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(vector_store_file_batches).values(
                    id=batch_id, vector_store_id=store_id, created_at=now
                )
            )

    async def get_batch(self, store_id: str, batch_id: str) -> FileBatch | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(vector_store_file_batches).where(
                        vector_store_file_batches.c.id == batch_id,
                        vector_store_file_batches.c.vector_store_id == store_id,
                    )
                )
            ).first()
            if row is None:
                return None
            rows = await conn.execute(
                select(
                    vector_store_files.c.batch_id,
                    vector_store_files.c.status,
                    func.count(),
                    func.sum(vector_store_files.c.usage_bytes),
                )
                .where(vector_store_files.c.batch_id == batch_id)
                .group_by(vector_store_files.c.batch_id, vector_store_files.c.status)
            )
            counts, _usage = _counts(rows.all()).get(batch_id, (FileCounts(), 0))
        status: FileStatus = "in_progress" if counts.in_progress else "completed"
        if row.cancelled and not counts.in_progress:
            status = "cancelled"
        return FileBatch(row.id, row.vector_store_id, status, counts, float(row.created_at))

    async def cancel_batch(self, store_id: str, batch_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(vector_store_file_batches)
                .where(
                    vector_store_file_batches.c.id == batch_id,
                    vector_store_file_batches.c.vector_store_id == store_id,
                )
                .values(cancelled=True)
            )
            await conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.batch_id == batch_id,
                    vector_store_files.c.status == "in_progress",
                )
                .values(status="cancelled", lease_owner=None, lease_expires_at=None)
            )

    # -- expected files (kithost import) -----------------------------------------------------
    async def add_expected(self, expected: list[ExpectedFile]) -> None:
        if not expected:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(vector_store_expected_files),
                [
                    {
                        "vector_store_id": item.vector_store_id,
                        "filename": item.filename,
                        "attributes": item.attributes,
                        "hosted_file_id": item.hosted_file_id,
                    }
                    for item in expected
                ],
            )

    async def expected(self, store_id: str) -> list[ExpectedFile]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(vector_store_expected_files)
                .where(vector_store_expected_files.c.vector_store_id == store_id)
                .order_by(vector_store_expected_files.c.seq)
            )
            return [
                ExpectedFile(
                    row.vector_store_id, row.filename, dict(row.attributes), row.hosted_file_id
                )
                for row in rows
            ]

    # -- ingestion jobs ----------------------------------------------------------------------
    async def claim(self, owner: str, now: float, lease_seconds: float) -> Job | None:
        """Take the oldest queued file whose lease is free or lapsed; None if there is none.

        The conditional UPDATE is the lock: of two processes racing for a row, one changes it.
        """
        free = or_(
            vector_store_files.c.lease_expires_at.is_(None),
            vector_store_files.c.lease_expires_at < now,
        )
        async with self.engine.connect() as conn:
            candidates = (
                await conn.execute(
                    select(vector_store_files.c.seq)
                    .where(vector_store_files.c.status == "in_progress", free)
                    .order_by(vector_store_files.c.created_at, vector_store_files.c.seq)
                    .limit(8)
                )
            ).all()
        for (seq,) in candidates:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    update(vector_store_files)
                    .where(
                        vector_store_files.c.seq == seq,
                        vector_store_files.c.status == "in_progress",
                        free,
                    )
                    .values(
                        lease_owner=owner,
                        lease_expires_at=now + lease_seconds,
                        attempts=vector_store_files.c.attempts + 1,
                    )
                )
                if not result.rowcount:
                    continue
                row = (
                    await conn.execute(
                        select(*_STORE_FILE_COLUMNS, vector_store_files.c.attempts)
                        .select_from(_STORE_FILES)
                        .where(vector_store_files.c.seq == seq)
                    )
                ).one()
            return Job(
                seq=seq,
                vector_store_id=row.vector_store_id,
                file_id=row.id,
                filename=row.filename,
                chunking_strategy=dict(row.chunking_strategy),
                attempts=int(row.attempts),
            )
        return None

    async def renew(self, job: Job, owner: str, until: float) -> bool:
        """Extend the lease; False when the job is no longer ours (cancelled, deleted, taken)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.seq == job.seq,
                    vector_store_files.c.lease_owner == owner,
                    vector_store_files.c.status == "in_progress",
                )
                .values(lease_expires_at=until)
            )
        return bool(result.rowcount)

    async def release(self, job: Job, owner: str) -> None:
        """Give a job back at once (a graceful stop): the next worker need not wait for the
        lease, and the attempt does not count."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.seq == job.seq,
                    vector_store_files.c.lease_owner == owner,
                    vector_store_files.c.status == "in_progress",
                )
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=vector_store_files.c.attempts - 1,
                )
            )

    async def finish(
        self,
        job: Job,
        owner: str,
        status: FileStatus,
        error: FileError | None,
        usage_bytes: int,
    ) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(vector_store_files)
                .where(
                    vector_store_files.c.seq == job.seq,
                    vector_store_files.c.lease_owner == owner,
                    vector_store_files.c.status == "in_progress",
                )
                .values(
                    status=status,
                    last_error={"code": error.code, "message": error.message} if error else None,
                    usage_bytes=usage_bytes,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return bool(result.rowcount)

    async def pending_count(self, store_id: str | None) -> int:
        query = select(func.count()).where(vector_store_files.c.status == "in_progress")
        if store_id is not None:
            query = query.where(vector_store_files.c.vector_store_id == store_id)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    # -- chunks ------------------------------------------------------------------------------
    async def chunk_ids(self, store_id: str | None, file_id: str | None) -> list[int]:
        conditions = []
        if store_id is not None:
            conditions.append(vector_store_chunks.c.vector_store_id == store_id)
        if file_id is not None:
            conditions.append(vector_store_chunks.c.file_id == file_id)
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(vector_store_chunks.c.id).where(*conditions))
            return [int(row.id) for row in rows]

    async def clear_chunks(self, store_id: str, file_id: str) -> None:
        async with self.engine.begin() as conn:
            await self._delete_chunks(
                conn,
                and_(
                    vector_store_chunks.c.vector_store_id == store_id,
                    vector_store_chunks.c.file_id == file_id,
                ),
            )

    @staticmethod
    async def _delete_chunks(conn: AsyncConnection, condition: Any) -> None:
        # Row by row through the table (not a cascade) so that SQLite's FTS triggers see them.
        await conn.execute(delete(vector_store_chunks).where(condition))

    async def add_chunks(
        self, store_id: str, file_id: str, first_index: int, pieces: list[tuple[str, int]]
    ) -> list[Chunk]:
        rows: list[dict[str, Any]] = [
            {
                "vector_store_id": store_id,
                "file_id": file_id,
                "chunk_index": first_index + n,
                "text": text,
                "token_count": tokens,
            }
            for n, (text, tokens) in enumerate(pieces)
        ]
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(vector_store_chunks).returning(
                    vector_store_chunks.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            chunk_ids = [int(row.id) for row in result]
        return [
            Chunk(chunk_id, store_id, file_id, row["chunk_index"], row["text"], row["token_count"])
            for chunk_id, row in zip(chunk_ids, rows, strict=True)
        ]

    async def chunks(self, chunk_ids: list[int]) -> dict[int, Chunk]:
        if not chunk_ids:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(vector_store_chunks).where(vector_store_chunks.c.id.in_(chunk_ids))
            )
            return {
                int(row.id): Chunk(
                    int(row.id),
                    row.vector_store_id,
                    row.file_id,
                    int(row.chunk_index),
                    row.text,
                    int(row.token_count),
                )
                for row in rows
            }

    async def file_chunks(self, store_id: str, file_id: str) -> list[Chunk]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(vector_store_chunks.c.id)
                .where(
                    vector_store_chunks.c.vector_store_id == store_id,
                    vector_store_chunks.c.file_id == file_id,
                )
                .order_by(vector_store_chunks.c.chunk_index)
            )
            ids = [int(row.id) for row in rows]
        found = await self.chunks(ids)
        return [found[chunk_id] for chunk_id in ids]

    async def chunk_ids_of_files(self, keys: list[tuple[str, str]]) -> list[int]:
        """Chunk ids of these (store id, file id) pairs, for a filtered vector search."""
        if not keys:
            return []
        by_store: dict[str, list[str]] = {}
        for store_id, file_id in keys:
            by_store.setdefault(store_id, []).append(file_id)
        condition = or_(
            *(
                and_(
                    vector_store_chunks.c.vector_store_id == store_id,
                    vector_store_chunks.c.file_id.in_(file_ids),
                )
                for store_id, file_ids in by_store.items()
            )
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(vector_store_chunks.c.id).where(condition))
            return [int(row.id) for row in rows]
