"""kithost's side of an import: its database through the repositories, and its file storage.

``KithostTarget`` writes. ``DryRunTarget`` reads the same database when there is one and
writes nothing at all: it neither migrates nor creates an SQLite file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.blobs import BlobStorage
from kithost.core.signing import FileLinks, LinkSigner, content_path
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.settings import Settings
from kithost.store.attachments import AttachmentRecord, AttachmentRepository
from kithost.store.blobs import LocalBlobStorage
from kithost.store.database import create_engine, is_sqlite
from kithost.store.imports import ImportRepository


class Target(Protocol):
    async def thread_owners(self, thread_ids: Sequence[str]) -> dict[str, str]:
        """The owner of each of these threads that kithost has, by thread id."""

    async def add_threads(self, records: Sequence[ThreadRecord]) -> None:
        """Insert these threads (new ones only), in this order."""

    async def existing_items(self, thread_id: str, item_ids: Sequence[str]) -> set[str]: ...
    async def add_items(self, records: Sequence[ItemRecord]) -> list[bool]:
        """Insert these items in one go, in order; per item, False if its id was taken."""

    async def attachment(self, attachment_id: str) -> AttachmentRecord | None: ...
    async def save_attachment(self, record: AttachmentRecord) -> None: ...
    async def write_bytes(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int: ...
    def preview_link(self, attachment_id: str) -> str:
        """A signed link to an attachment's bytes, like those kithost hands out itself."""


class KithostTarget:
    def __init__(
        self, engine: AsyncEngine, blobs: BlobStorage, signer: LinkSigner, public_url: str
    ):
        self._imports = ImportRepository(engine)
        self._attachments = AttachmentRepository(engine)
        self._blobs = blobs
        self._links = FileLinks(signer)
        self._public_url = public_url

    @staticmethod
    def blob_storage(settings: Settings) -> BlobStorage:
        """Where kithost keeps uploaded bytes (as ``open_services`` wires it)."""
        return LocalBlobStorage(settings.data_dir / "files")

    async def thread_owners(self, thread_ids: Sequence[str]) -> dict[str, str]:
        return await self._imports.thread_owners(thread_ids)

    async def add_threads(self, records: Sequence[ThreadRecord]) -> None:
        await self._imports.add_threads(records)

    async def existing_items(self, thread_id: str, item_ids: Sequence[str]) -> set[str]:
        return await self._imports.existing_items(thread_id, item_ids)

    async def add_items(self, records: Sequence[ItemRecord]) -> list[bool]:
        return await self._imports.add_items(records)

    async def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        return await self._attachments.get(attachment_id)

    async def save_attachment(self, record: AttachmentRecord) -> None:
        await self._attachments.save(record)

    async def write_bytes(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        return await self._blobs.write(key, chunks, max_bytes)

    def preview_link(self, attachment_id: str) -> str:
        return self._links.preview(attachment_id, self._public_url)


class DryRunTarget:
    """Reads what is already imported; every write is dropped."""

    def __init__(self, engine: AsyncEngine | None, public_url: str):
        self._engine = engine
        self._imports = ImportRepository(engine) if engine else None
        self._attachments = AttachmentRepository(engine) if engine else None
        self._public_url = public_url.rstrip("/")

    @classmethod
    def open(cls, settings: Settings, public_url: str) -> DryRunTarget:
        """Connect only to a database that exists: a dry run must not create one."""
        url = settings.resolved_database_url
        if is_sqlite(url):
            database = make_url(url).database
            if not database or database == ":memory:" or not Path(database).exists():
                return cls(None, public_url)
        return cls(create_engine(url), public_url)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    # A database without kithost's tables (never migrated) has imported nothing.

    async def thread_owners(self, thread_ids: Sequence[str]) -> dict[str, str]:
        if self._imports is None:
            return {}
        try:
            return await self._imports.thread_owners(thread_ids)
        except DBAPIError:
            return {}

    async def add_threads(self, records: Sequence[ThreadRecord]) -> None:
        return None

    async def existing_items(self, thread_id: str, item_ids: Sequence[str]) -> set[str]:
        if self._imports is None:
            return set()
        try:
            return await self._imports.existing_items(thread_id, item_ids)
        except DBAPIError:
            return set()

    async def add_items(self, records: Sequence[ItemRecord]) -> list[bool]:
        return [True] * len(records)

    async def attachment(self, attachment_id: str) -> AttachmentRecord | None:
        if self._attachments is None:
            return None
        try:
            return await self._attachments.get(attachment_id)
        except DBAPIError:
            return None

    async def save_attachment(self, record: AttachmentRecord) -> None:
        return None

    async def write_bytes(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        return 0

    def preview_link(self, attachment_id: str) -> str:
        return f"{self._public_url}{content_path(attachment_id)}"
