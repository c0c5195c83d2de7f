"""Attachment previews copied into kithost's file storage.

An attachment whose ``preview_url`` answers is stored like an upload: the bytes in kithost's
blob storage, an attachment row bound to the thread (``uploaded=True``), and a kithost signed
link in the item, served by ``/v1/chatkit/files/{id}/content``. Any other attachment keeps its
metadata (a row without bytes, and the source's link in the item); the reason is reported.

The source's API key is sent only to the source's own origin, never to another host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

import httpx

from kithost.core.blobs import TooLarge
from kithost.core.threads import ThreadRecord
from kithost.importer.mapping import SourceAttachment, Unmappable, attachment_data
from kithost.importer.target import Target
from kithost.store.attachments import AttachmentRecord

MAX_BYTES = 512 * 1024 * 1024  # the largest upload hosted ChatKit allows
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class Outcome:
    preview_url: str | None
    """The link to keep in the item."""
    copied: bool
    reason: str | None = None
    """Why the bytes were not copied."""


class Unavailable(Exception):
    """The preview could not be fetched; the message says why."""


class PreviewCopier:
    def __init__(
        self, target: Target, http: httpx.AsyncClient, source_url: str, api_key: str | None
    ):
        self._target = target
        self._http = http
        self._source_origin = _origin(source_url)
        self._api_key = api_key

    async def copy(self, attachment: SourceAttachment, thread: ThreadRecord) -> Outcome:
        """Copy the bytes behind the preview (once: a copied attachment is reused).

        Raises ``Unmappable`` when the attachment's id is another user's in kithost.
        """
        existing = await self._target.attachment(attachment.id)
        if existing is not None and existing.user != thread.user:
            # Never point an item at someone else's bytes: the item is not imported.
            raise Unmappable(
                f"attachment {attachment.id}: kithost has an attachment with this id that "
                "belongs to another user"
            )
        if existing is not None and existing.uploaded:
            return Outcome(self._target.preview_link(attachment.id), copied=True)
        if attachment.preview_url is None:
            # An image needs a link to be shown at all: kithost's, which works once bytes exist.
            fallback = (
                self._target.preview_link(attachment.id) if attachment.type == "image" else None
            )
            await self._keep_metadata(attachment, thread, fallback)
            return Outcome(fallback, copied=False, reason="the source gives no preview_url")
        key = storage_key(attachment.id)
        try:
            size = await self._target.write_bytes(
                key, self._fetch(attachment.preview_url), MAX_BYTES
            )
        except (Unavailable, TooLarge) as error:
            reason = str(error) if isinstance(error, Unavailable) else "larger than 512 MB"
            await self._keep_metadata(attachment, thread, attachment.preview_url)
            return Outcome(attachment.preview_url, copied=False, reason=reason)
        link = self._target.preview_link(attachment.id)
        await self._target.save_attachment(
            AttachmentRecord(
                id=attachment.id,
                user=thread.user,
                name=attachment.name,
                mime_type=attachment.mime_type,
                data=attachment_data(attachment, thread.id, link),
                thread_id=thread.id,
                size=size,
                storage_key=key,
                uploaded=True,
            )
        )
        return Outcome(link, copied=True)

    async def _keep_metadata(
        self, attachment: SourceAttachment, thread: ThreadRecord, preview_url: str | None
    ) -> None:
        await self._target.save_attachment(
            AttachmentRecord(
                id=attachment.id,
                user=thread.user,
                name=attachment.name,
                mime_type=attachment.mime_type,
                data=attachment_data(attachment, thread.id, preview_url),
                thread_id=thread.id,
            )
        )

    async def _fetch(self, url: str) -> AsyncIterator[bytes]:
        if url.startswith("data:"):
            yield _data_url(url)
            return
        if urlsplit(url).scheme not in ("http", "https"):
            raise Unavailable(f"preview_url is not an http(s) link ({url[:40]})")
        headers = {}
        if self._api_key and _origin(url) == self._source_origin:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            async with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise Unavailable(f"preview_url answered {response.status_code}")
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as error:
            raise Unavailable(f"preview_url could not be fetched ({error})") from None


def storage_key(attachment_id: str) -> str:
    """The blob key: the attachment id (as kithost's own uploads), or a digest of an odd one.

    Deterministic, so that a run resumed after a crash overwrites its own partial copy.
    """
    if _KEY.fullmatch(attachment_id):
        return attachment_id
    return "imported_" + hashlib.sha256(attachment_id.encode()).hexdigest()[:48]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _data_url(url: str) -> bytes:
    header, _, payload = url[5:].partition(",")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise Unavailable("preview_url is a malformed data: URL") from None
