"""One ChatKit request, end to end: pre-checks, then the SDK's ``process``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    ClientToolCallItem,
    StructuredInputItem,
    ThreadItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    UserMessageItem,
    WidgetItem,
)

from kithost.conversation import requests
from kithost.conversation.server import KithostChatKitServer
from kithost.conversation.uploads import Uploads
from kithost.core import ids
from kithost.core.context import RequestContext
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.limits import too_many
from kithost.store.chatkit_store import SqlChatKitStore


@dataclass(frozen=True)
class StreamingTurn:
    """A validated streaming request, not started yet: its SSE events and what it acts on."""

    events: AsyncIterator[bytes]
    request_type: str
    thread_id: str | None


class ConversationService:
    def __init__(self, server: KithostChatKitServer, store: SqlChatKitStore, uploads: Uploads):
        self.server = server
        self._store = store
        self._uploads = uploads

    async def handle(
        self, body: bytes, context: RequestContext
    ) -> StreamingTurn | NonStreamingResult:
        """Validate the request; a streaming one comes back unstarted, for a run to execute."""
        return await self.process(requests.parse_request(body), context)

    async def process(
        self, request: ChatKitReq, context: RequestContext
    ) -> StreamingTurn | NonStreamingResult:
        """``handle`` for a request already parsed (server-side turns build theirs)."""
        await self._precheck(request, context)
        thread_id = requests.thread_id_of(request)
        if isinstance(request, ThreadsCreateReq):
            thread_id = ids.thread_id()
            context = replace(context, new_thread_id=thread_id)
        try:
            result = await self.server.process_request(request, context)
        except NotFoundError as error:
            raise NotFound(str(error) or "Not found.") from None
        except NotImplementedError:
            raise InvalidRequest(
                f"'{request.type}' is not supported by this server.", code="unsupported_request"
            ) from None
        except ValueError as error:
            raise InvalidRequest(str(error), code="invalid_request") from None
        if isinstance(result, StreamingResult):
            return StreamingTurn(
                events=result.json_events,
                request_type=request.type,
                thread_id=thread_id,
            )
        return result

    async def _precheck(self, request: ChatKitReq, context: RequestContext) -> None:
        thread_id = requests.thread_id_of(request)
        if thread_id is not None:
            try:
                thread = await self._store.owned_thread(thread_id, context)
            except NotFoundError:
                raise NotFound(
                    f"No thread found with id '{thread_id}'.", param="params.thread_id"
                ) from None
            if isinstance(request, requests.NEW_INPUT) and thread.status != "active":
                raise InvalidRequest(
                    f"Thread '{thread_id}' is {thread.status} and accepts no new input.",
                    param="params.thread_id",
                    code=f"thread_{thread.status}",
                )
            await self._check_target(request, thread_id, context)
        await self.check_attachments(requests.attachment_ids_of(request), context)
        deleted = requests.deleted_attachment_of(request)
        if deleted is not None:
            try:
                await self._store.owned_attachment(deleted, context)
            except NotFoundError:
                raise NotFound(
                    f"No attachment found with id '{deleted}'.", param="params.attachment_id"
                ) from None

    async def check_attachments(self, attachment_ids: list[str], context: RequestContext) -> None:
        """The user's own files, uploaded, no more of them than the session allows."""
        if attachment_ids:
            # Repeats are already dropped: this counts distinct files.
            max_files = context.session.configuration.max_files
            if len(attachment_ids) > max_files:
                raise too_many(
                    "params.input.attachments",
                    len(attachment_ids),
                    max_files,
                    " (the session's file_upload.max_files)",
                )
            await self._uploads.check_usable(attachment_ids, context)

    async def _check_target(
        self, request: ChatKitReq, thread_id: str, context: RequestContext
    ) -> None:
        """The item a streaming request acts on exists and is of the kind the SDK requires.

        Inside the stream the SDK reports these as a ``ValueError`` or ``NotFoundError`` after
        the 200 is sent, which only aborts the connection; here they are a 400 or a 404.
        """
        if isinstance(request, ThreadsAddClientToolOutputReq):
            # The SDK's own rule: the newest item must be a pending client tool call.
            newest = await self._store.load_thread_items(thread_id, None, 1, "desc", context)
            last = newest.data[0] if newest.data else None
            if not (isinstance(last, ClientToolCallItem) and last.status == "pending"):
                raise InvalidRequest(
                    f"Thread '{thread_id}' has no pending client tool call to receive output.",
                    param="params.thread_id",
                    code="no_pending_tool_call",
                )
        elif isinstance(request, ThreadsAddStructuredInputReq):
            item = await self._item(thread_id, request.params.item_id, context)
            if not isinstance(item, StructuredInputItem):
                raise _wrong_item(item, "a structured input item")
            if item.status != "pending":
                raise InvalidRequest(
                    f"Structured input item '{item.id}' is not pending (it is {item.status}).",
                    param="params.item_id",
                    code="item_not_pending",
                )
        elif isinstance(request, ThreadsRetryAfterItemReq):
            item = await self._item(thread_id, request.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise _wrong_item(item, "a user message")
        elif (
            isinstance(request, ThreadsCustomActionReq | ThreadsSyncCustomActionReq)
            and request.params.item_id is not None
        ):
            # The SDK's rule, checked here so that both kinds answer the same 400 (inside a
            # stream the SDK could only send an error event after the 200).
            item = await self._item(thread_id, request.params.item_id, context)
            if not isinstance(item, WidgetItem):
                raise _wrong_item(item, "a widget")

    async def _item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        try:
            return await self._store.load_item(thread_id, item_id, context)
        except NotFoundError:
            raise NotFound(
                f"No item found with id '{item_id}' in thread '{thread_id}'.",
                param="params.item_id",
            ) from None


def _wrong_item(item: ThreadItem, expected: str) -> InvalidRequest:
    return InvalidRequest(
        f"Item '{item.id}' is not {expected} (it is a {item.type}).",
        param="params.item_id",
        code="invalid_item",
    )
