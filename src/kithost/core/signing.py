"""Short-lived signed links for file bytes (image previews, two-phase uploads).

A browser fetches an ``<img src>`` or an upload URL without our ``Authorization`` header, so
the link itself carries the permission: an expiry and an HMAC over the path and the expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import urlencode, urlsplit

PREVIEW_TTL_SECONDS = 3600
UPLOAD_TTL_SECONDS = 900


class LinkSigner:
    def __init__(self, key: str):
        self._key = key.encode("utf-8")

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, path: str, ttl: int) -> str:
        """Return ``base_url + path`` with ``expires`` and ``signature`` query parameters."""
        expires = int(time.time()) + ttl
        query = urlencode({"expires": expires, "signature": self._signature(path, expires)})
        return f"{base_url.rstrip('/')}{path}?{query}"

    def verify(self, path: str, expires: str | None, signature: str | None) -> bool:
        """True when the link is authentic and not yet expired."""
        if not expires or not signature or not expires.isdigit():
            return False
        if int(expires) < time.time():
            return False
        expected = self._signature(path, int(expires))
        return hmac.compare_digest(expected.encode(), signature.encode())


_CONTENT_LINK = re.compile(r"/v1/chatkit/files/([A-Za-z0-9_-]+)/content$")


def content_path(attachment_id: str) -> str:
    return f"/v1/chatkit/files/{attachment_id}/content"


def upload_path(attachment_id: str) -> str:
    return f"/v1/chatkit/files/{attachment_id}/upload"


class FileLinks:
    """The signed links kithost hands out for one attachment's bytes."""

    def __init__(self, signer: LinkSigner):
        self.signer = signer

    def preview(self, attachment_id: str, public_url: str) -> str:
        return self.signer.sign(public_url, content_path(attachment_id), PREVIEW_TTL_SECONDS)

    def upload(self, attachment_id: str, public_url: str) -> str:
        return self.signer.sign(public_url, upload_path(attachment_id), UPLOAD_TTL_SECONDS)

    def refresh(self, url: str | None, public_url: str) -> str | None:
        """A fresh preview link in place of a stored (perhaps expired) one of kithost's.

        Links that are not kithost's (an imported attachment whose bytes stayed at the source)
        are returned as they are.
        """
        match = _CONTENT_LINK.search(urlsplit(url).path) if url else None
        return self.preview(match.group(1), public_url) if match else url
