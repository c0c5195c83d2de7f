"""Uploads: ChatKit's ``AttachmentStore`` (two-phase) and kithost's direct upload path.

Both paths apply the session's ``file_upload`` limits on the server: enabled, size, count (per
session, as hosted: "maximum number of uploads allowed during the session") and type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from chatkit.store import AttachmentStore
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from pydantic import AnyUrl

from kithost.core import ids
from kithost.core.blobs import BlobStorage, TooLarge
from kithost.core.context import RequestContext
from kithost.core.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from kithost.core.sessions import ChatSession
from kithost.core.signing import FileLinks
from kithost.core.uploads import IMAGE_MIME_TYPES, UploadPolicy, too_large, too_many
from kithost.observability import metrics
from kithost.store.attachments import AttachmentRecord, AttachmentRepository
from kithost.store.chatkit_store import SqlChatKitStore
from kithost.store.sessions import SessionRepository

_HEAD_BYTES = 12


@dataclass(frozen=True)
class FileContent:
    data: bytes
    mime_type: str
    name: str


class Uploads(AttachmentStore[RequestContext]):
    def __init__(
        self,
        store: SqlChatKitStore,
        attachments: AttachmentRepository,
        sessions: SessionRepository,
        blobs: BlobStorage,
        policy: UploadPolicy,
        links: FileLinks,
    ):
        self._store = store
        self._attachments = attachments
        self._sessions = sessions
        self._blobs = blobs
        self._policy = policy
        self._links = links

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return ids.attachment_id()

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        """Two-phase step 1: check the limits and hand out a signed upload link."""
        session = context.session
        mime_type = self._policy.check_declared(session, input.mime_type, input.size)
        await self._claim_slot(session)
        attachment_id = self.generate_attachment_id(mime_type, context)
        descriptor = AttachmentUploadDescriptor(
            url=AnyUrl(self._links.upload(attachment_id, context.public_url)),
            method="POST",
            headers={},
        )
        return self._attachment(attachment_id, input.name, mime_type, context, descriptor)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        record = await self._store.owned_attachment(attachment_id, context)
        if record.storage_key:
            await self._blobs.delete(record.storage_key)

    async def upload_direct(
        self, context: RequestContext, name: str, mime_type: str, chunks: AsyncIterator[bytes]
    ) -> Attachment:
        """``POST /v1/chatkit/files``: store the bytes and the attachment in one step."""
        session = context.session
        kind = self._policy.check_declared(session, mime_type, None)
        attachment_id = self.generate_attachment_id(kind, context)
        size = await self._write(session, attachment_id, kind, chunks)
        # Claimed only once the bytes passed their checks: a refused file (too large, not what
        # it claims to be) is no upload, and must not use up one of the session's max_files.
        try:
            await self._claim_slot(session)
        except InvalidRequest:
            await self._blobs.delete(attachment_id)
            raise
        attachment = self._attachment(attachment_id, name, kind, context, None)
        await self._attachments.save(
            AttachmentRecord(
                id=attachment_id,
                user=context.user,
                name=name,
                mime_type=kind,
                data=attachment.model_dump(mode="json"),
                session_id=session.id,
                size=size,
                storage_key=attachment_id,
                uploaded=True,
            )
        )
        return attachment

    async def pending_upload(self, attachment_id: str) -> tuple[AttachmentRecord, ChatSession]:
        """Two-phase step 2, before a byte is read: the attachment still waits for its bytes and
        the session that made it is active (its limits apply to the body)."""
        record = await self._attachments.get(attachment_id)
        if record is None or record.session_id is None:
            raise NotFound(f"No attachment found with id '{attachment_id}'.")
        if record.uploaded:
            raise Conflict(
                "This attachment's bytes were already uploaded.", code="already_uploaded"
            )
        session = await self._sessions.get(record.session_id)
        if session is None:
            raise NotFound(f"No attachment found with id '{attachment_id}'.")
        status = session.status()
        if status == "cancelled":
            raise Unauthenticated(
                "The session that created this upload has been cancelled.",
                code="session_cancelled",
            )
        if status == "expired":
            raise Unauthenticated(
                "The session that created this upload has expired.", code="session_expired"
            )
        return record, session

    async def upload_two_phase(
        self, attachment_id: str, public_url: str, chunks: AsyncIterator[bytes]
    ) -> Attachment:
        """Two-phase step 2: the bytes for an attachment made by ``attachments.create``."""
        record, session = await self.pending_upload(attachment_id)
        size = await self._write(session, attachment_id, record.mime_type, chunks)
        context = RequestContext(session=session, public_url=public_url)
        attachment = self._attachment(attachment_id, record.name, record.mime_type, context, None)
        if record.thread_id:
            attachment.thread_id = record.thread_id
        await self._attachments.save(
            AttachmentRecord(
                id=record.id,
                user=record.user,
                name=record.name,
                mime_type=record.mime_type,
                data=attachment.model_dump(mode="json"),
                session_id=record.session_id,
                thread_id=record.thread_id,
                size=size,
                storage_key=attachment_id,
                uploaded=True,
            )
        )
        return attachment

    async def content(self, attachment_id: str) -> FileContent:
        record = await self._attachments.get(attachment_id)
        if record is None or not record.uploaded or not record.storage_key:
            raise NotFound(f"No file found with id '{attachment_id}'.")
        data = await self._blobs.read(record.storage_key)
        return FileContent(data=data, mime_type=record.mime_type, name=record.name)

    async def check_usable(self, attachment_ids: list[str], context: RequestContext) -> None:
        """Before a message is accepted: each attachment is the user's and has its bytes."""
        for attachment_id in attachment_ids:
            record = await self._attachments.get(attachment_id)
            if record is None or record.user != context.user:
                raise NotFound(
                    f"No attachment found with id '{attachment_id}'.", param="attachments"
                )
            if not record.uploaded:
                raise InvalidRequest(
                    f"Attachment '{attachment_id}' has no uploaded bytes yet.",
                    param="attachments",
                    code="upload_incomplete",
                )

    async def _claim_slot(self, session: ChatSession) -> None:
        if not await self._sessions.claim_upload(session.id, session.configuration.max_files):
            raise too_many(session)

    async def _write(
        self, session: ChatSession, key: str, mime_type: str, chunks: AsyncIterator[bytes]
    ) -> int:
        try:
            size = await self._blobs.write(
                key, self._checked(mime_type, chunks), self._policy.max_bytes(session)
            )
        except TooLarge:
            raise too_large(session) from None
        metrics.uploaded("chatkit", size)
        return size

    async def _checked(self, mime_type: str, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        head = b""
        checked = False
        async for chunk in chunks:
            if not checked:
                head += chunk[:_HEAD_BYTES]
                if len(head) >= _HEAD_BYTES:
                    self._check_head(mime_type, head)
                    checked = True
            yield chunk
        if not checked:
            self._check_head(mime_type, head)

    def _check_head(self, mime_type: str, head: bytes) -> None:
        if not head:
            raise InvalidRequest("The file is empty.", param="file", code="empty_file")
        if not self._policy.content_matches(mime_type, head):
            raise InvalidRequest(
                f"The file's content is not {mime_type}.", param="file", code="invalid_file"
            )

    def _attachment(
        self,
        attachment_id: str,
        name: str,
        mime_type: str,
        context: RequestContext,
        descriptor: AttachmentUploadDescriptor | None,
    ) -> Attachment:
        if mime_type in IMAGE_MIME_TYPES:
            return ImageAttachment(
                id=attachment_id,
                name=name,
                mime_type=mime_type,
                upload_descriptor=descriptor,
                preview_url=AnyUrl(self._links.preview(attachment_id, context.public_url)),
            )
        return FileAttachment(
            id=attachment_id, name=name, mime_type=mime_type, upload_descriptor=descriptor
        )
