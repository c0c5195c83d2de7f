"""One ChatKit request, end to end: pre-checks, then the SDK's ``process``."""

from __future__ import annotations

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ChatKitReq

from kithost.conversation import requests
from kithost.conversation.server import KithostChatKitServer
from kithost.conversation.uploads import Uploads
from kithost.core.context import RequestContext
from kithost.core.errors import InvalidRequest, NotFound
from kithost.store.chatkit_store import SqlChatKitStore


class ConversationService:
    def __init__(self, server: KithostChatKitServer, store: SqlChatKitStore, uploads: Uploads):
        self.server = server
        self._store = store
        self._uploads = uploads

    async def handle(
        self, body: bytes, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        request = requests.parse_request(body)
        await self._precheck(request, context)
        try:
            return await self.server.process(body, context)
        except NotFoundError as error:
            raise NotFound(str(error) or "Not found.") from None
        except NotImplementedError:
            raise InvalidRequest(
                f"'{request.type}' is not supported by this server.", code="unsupported_request"
            ) from None
        except ValueError as error:
            raise InvalidRequest(str(error), code="invalid_request") from None

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
        attachment_ids = requests.attachment_ids_of(request)
        if attachment_ids:
            await self._uploads.check_usable(attachment_ids, context)
        deleted = requests.deleted_attachment_of(request)
        if deleted is not None:
            try:
                await self._store.owned_attachment(deleted, context)
            except NotFoundError:
                raise NotFound(
                    f"No attachment found with id '{deleted}'.", param="params.attachment_id"
                ) from None
