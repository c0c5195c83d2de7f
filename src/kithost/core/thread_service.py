"""Control-plane thread use cases: retrieve, list, update, delete, list and add items."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from kithost.core.errors import NotFound, invalid_id
from kithost.core.ids import THREAD_PREFIX
from kithost.core.metadata import check_metadata
from kithost.core.pagination import ListParams, Page
from kithost.core.server_turns import ThreadUpdate
from kithost.core.threads import REST_ITEM_TYPES, ItemRecord, ThreadRecord
from kithost.core.validation import check_text


class ThreadRepo(Protocol):
    async def get_thread(self, thread_id: str) -> ThreadRecord | None: ...
    async def list_threads(
        self, params: ListParams, user: str | None = None, workflow_id: str | None = None
    ) -> Page[ThreadRecord]: ...
    async def delete_thread(self, thread_id: str) -> list[str] | None: ...
    async def save_thread(self, thread: ThreadRecord, *, new: bool = False) -> None: ...
    async def add_item(self, item: ItemRecord) -> bool: ...
    async def list_items(
        self, thread_id: str, params: ListParams, types: list[str] | None = None
    ) -> Page[ItemRecord]: ...


class BlobDeleter(Protocol):
    async def delete(self, key: str) -> None: ...


class ThreadService:
    def __init__(self, repo: ThreadRepo, blobs: BlobDeleter):
        self._repo = repo
        self._blobs = blobs

    async def get(self, thread_id: str) -> ThreadRecord:
        _check_thread_id(thread_id)
        thread = await self._repo.get_thread(thread_id)
        if thread is None:
            raise not_found(thread_id)
        return thread

    async def list(
        self, params: ListParams, user: str | None = None, workflow_id: str | None = None
    ) -> Page[ThreadRecord]:
        return await self._repo.list_threads(params, user=user, workflow_id=workflow_id)

    async def create(self, thread: ThreadRecord) -> None:
        await self._repo.save_thread(thread, new=True)

    async def newest_item_id(self, thread_id: str) -> str | None:
        """The id of the newest item that has a REST form (a cursor for ``list_items``)."""
        page = await self.list_items(thread_id, ListParams(limit=1, order="desc"))
        return page.data[0].id if page.data else None

    async def update(self, thread_id: str, update: ThreadUpdate) -> ThreadRecord:
        """Change the title, status or metadata; what the body leaves out stays."""
        thread = await self.get(thread_id)
        given = update.model_fields_set
        check_metadata(update.metadata)
        if "title" in given:
            thread = replace(thread, title=update.title)
        if "metadata" in given:
            thread = replace(thread, metadata=dict(update.metadata or {}))
        status = update.status_and_reason()
        if status is not None:
            thread = replace(thread, status=status[0], status_reason=status[1])
        await self._repo.save_thread(thread)
        return thread

    async def add_item(self, item: ItemRecord) -> ItemRecord:
        """Add an item made outside any run (a notice) to an existing thread."""
        await self.get(item.thread_id)
        await self._repo.add_item(item)
        return item

    async def delete(self, thread_id: str) -> None:
        """Delete the thread with its items, attachments and their bytes."""
        _check_thread_id(thread_id)
        storage_keys = await self._repo.delete_thread(thread_id)
        if storage_keys is None:
            raise not_found(thread_id)
        for key in storage_keys:
            await self._blobs.delete(key)

    async def list_items(self, thread_id: str, params: ListParams) -> Page[ItemRecord]:
        """Items in their REST form only: the query skips types that have none."""
        await self.get(thread_id)
        return await self._repo.list_items(thread_id, params, types=list(REST_ITEM_TYPES))


def _check_thread_id(thread_id: str) -> None:
    check_text(thread_id, "thread_id")
    if not thread_id.startswith(THREAD_PREFIX.rstrip("_")):
        raise invalid_id("thread_id", thread_id, "cthr")


def not_found(thread_id: str) -> NotFound:
    return NotFound(f"No thread found with id '{thread_id}'.", param="thread_id")
