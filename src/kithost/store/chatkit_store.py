"""ChatKit's ``Store`` on kithost's tables, scoped to the session's user.

Every method checks ownership: a thread, item or attachment that belongs to another user is
reported as missing (``NotFoundError``), exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    ActiveStatus,
    Attachment,
    ClosedStatus,
    ImageAttachment,
    LockedStatus,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)
from pydantic import TypeAdapter

from kithost.core import ids
from kithost.core.blobs import BlobStorage
from kithost.core.context import RequestContext
from kithost.core.pagination import ListParams, Order
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.store.attachments import AttachmentRecord, AttachmentRepository
from kithost.store.threads import ThreadRepository

_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)

# Refreshes a stored preview link: (stored URL, public base URL) -> URL to hand out.
PreviewUrl = Callable[[str | None, str], str | None]


class SqlChatKitStore(Store[RequestContext]):
    def __init__(
        self,
        threads: ThreadRepository,
        attachments: AttachmentRepository,
        blobs: BlobStorage,
        preview_url: PreviewUrl,
    ):
        self._threads = threads
        self._attachments = attachments
        self._blobs = blobs
        self._preview_url = preview_url

    # ids in the hosted formats (the SDK's defaults carry only 32 random bits)

    def generate_thread_id(self, context: RequestContext) -> str:
        return context.new_thread_id or ids.thread_id()

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return ids.item_id()

    # threads

    async def owned_thread(self, thread_id: str, context: RequestContext) -> ThreadRecord:
        record = await self._threads.get_thread(thread_id)
        if record is None or record.user != context.user:
            raise NotFoundError(f"Thread {thread_id} not found")
        return record

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return _thread_metadata(await self.owned_thread(thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        existing = await self._threads.get_thread(thread.id)
        if existing is not None and existing.user != context.user:
            raise NotFoundError(f"Thread {thread.id} not found")
        status = thread.status
        await self._threads.save_thread(
            ThreadRecord(
                id=thread.id,
                user=context.user,
                created_at=thread.created_at.timestamp(),
                title=thread.title,
                status=status.type,
                status_reason=None if isinstance(status, ActiveStatus) else status.reason,
                session_id=existing.session_id if existing else context.session.id,
                workflow_id=existing.workflow_id if existing else context.session.workflow.id,
                metadata=thread.metadata,
                allowed_image_domains=thread.allowed_image_domains,
            ),
            new=existing is None,
        )

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        config = context.session.configuration
        if not config.history_enabled:
            return Page(data=[], has_more=False)
        params = ListParams(limit=limit, order=_order(order), after=after)
        if config.recent_threads is None:
            page = await self._threads.list_threads(params, user=context.user)
            data, has_more = page.data, page.has_more
        else:
            data, has_more = await self._recent_threads(params, config.recent_threads, context)
        return Page(
            data=[_thread_metadata(t) for t in data],
            has_more=has_more,
            after=data[-1].id if has_more and data else None,
        )

    async def _recent_threads(
        self, params: ListParams, recent: int, context: RequestContext
    ) -> tuple[list[ThreadRecord], bool]:
        """Page through only the user's ``recent`` newest threads (history.recent_threads)."""
        newest = await self._threads.list_threads(ListParams(limit=recent), user=context.user)
        visible = newest.data if params.order == "desc" else list(reversed(newest.data))
        start = 0
        if params.after is not None:
            positions = [t.id for t in visible]
            start = positions.index(params.after) + 1 if params.after in positions else len(visible)
        window = visible[start : start + params.limit]
        return window, start + params.limit < len(visible)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await self.owned_thread(thread_id, context)
        for key in await self._threads.delete_thread(thread_id) or []:
            await self._blobs.delete(key)

    # items

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        await self.owned_thread(thread_id, context)
        params = ListParams(limit=limit, order=_order(order), after=after)
        page = await self._threads.list_items(thread_id, params)
        items = [self._item(record, context) for record in page.data]
        return Page(
            data=items,
            has_more=page.has_more,
            after=items[-1].id if page.has_more and items else None,
        )

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        # Idempotent: the SDK adds a continued workflow item a second time.
        await self.owned_thread(thread_id, context)
        await self._threads.add_item(item_record(thread_id, item))

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self.owned_thread(thread_id, context)
        await self._threads.save_item(item_record(thread_id, item))

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        await self.owned_thread(thread_id, context)
        record = await self._threads.get_item(thread_id, item_id)
        if record is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return self._item(record, context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        await self.owned_thread(thread_id, context)
        await self._threads.delete_item(thread_id, item_id)

    async def record_feedback(
        self, thread_id: str, item_ids: list[str], kind: str, context: RequestContext
    ) -> None:
        await self.owned_thread(thread_id, context)
        await self._threads.record_feedback(thread_id, item_ids, kind)

    # attachments (metadata; bytes are the AttachmentStore's)

    async def owned_attachment(
        self, attachment_id: str, context: RequestContext
    ) -> AttachmentRecord:
        record = await self._attachments.get(attachment_id)
        if record is None or record.user != context.user:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return record

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        data = attachment.model_dump(mode="json")
        existing = await self._attachments.get(attachment.id)
        if existing is not None:
            if existing.user != context.user:
                raise NotFoundError(f"Attachment {attachment.id} not found")
            # An upsert (chatkit >= 1.6.0): the new metadata replaces the old; once bound to a
            # thread, the attachment stays bound.
            thread_id = attachment.thread_id or existing.thread_id
            data["thread_id"] = thread_id
            await self._attachments.update_metadata(attachment.id, attachment.name, data, thread_id)
            return
        await self._attachments.save(
            AttachmentRecord(
                id=attachment.id,
                user=context.user,
                name=attachment.name,
                mime_type=attachment.mime_type,
                data=data,
                session_id=context.session.id,
                thread_id=attachment.thread_id,
            )
        )

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        record = await self.owned_attachment(attachment_id, context)
        return self._fresh_preview(_ATTACHMENT.validate_python(record.data), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self.owned_attachment(attachment_id, context)
        await self._attachments.delete(attachment_id)

    # conversions

    def _item(self, record: ItemRecord, context: RequestContext) -> ThreadItem:
        item = _ITEM.validate_python(record.data)
        if isinstance(item, UserMessageItem) and item.attachments:
            item.attachments = [self._fresh_preview(a, context) for a in item.attachments]
        return item

    def _fresh_preview(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """Stored preview links expire; hand out a freshly signed one on every read."""
        if isinstance(attachment, ImageAttachment):
            url = self._preview_url(str(attachment.preview_url), context.public_url)
            return ImageAttachment.model_validate({**attachment.model_dump(), "preview_url": url})
        return attachment


def _order(order: str) -> Order:
    return "asc" if order == "asc" else "desc"


def _thread_metadata(record: ThreadRecord) -> ThreadMetadata:
    status: Any
    if record.status == "locked":
        status = LockedStatus(reason=record.status_reason)
    elif record.status == "closed":
        status = ClosedStatus(reason=record.status_reason)
    else:
        status = ActiveStatus()
    return ThreadMetadata(
        id=record.id,
        title=record.title,
        created_at=datetime.fromtimestamp(record.created_at),
        status=status,
        allowed_image_domains=record.allowed_image_domains,
        metadata=record.metadata,
    )


def item_record(thread_id: str, item: ThreadItem) -> ItemRecord:
    """A protocol item as the row that stores it."""
    return ItemRecord(
        id=item.id,
        thread_id=thread_id,
        type=item.type,
        created_at=item.created_at.timestamp(),
        data=item.model_dump(mode="json"),
    )
