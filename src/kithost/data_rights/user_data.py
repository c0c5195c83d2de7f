"""Data rights: everything kithost holds about one user, exported as JSON, or erased."""

from __future__ import annotations

import base64
import time
from typing import Any, Protocol

from kithost.core.validation import check_text
from kithost.data_rights.retention import BlobDeleter, Journal, RateLimitKeys, remove_leftovers
from kithost.store.user_data import UserDataRepository


class BlobStore(BlobDeleter, Protocol):
    async def read(self, key: str) -> bytes: ...


class UserData:
    def __init__(
        self,
        repo: UserDataRepository,
        blobs: BlobStore,
        journal: Journal,
        rate_limits: RateLimitKeys,
    ):
        self._repo = repo
        self._blobs = blobs
        self._journal = journal
        self._rate_limits = rate_limits

    async def export(self, user: str) -> dict[str, Any]:
        """One JSON document: sessions (no secret), threads, items, feedback, runs, and each
        attachment with its bytes in ``content_base64`` (null when none were uploaded)."""
        check_text(user, "user")
        rows = await self._repo.rows(user)
        for attachment in rows["attachments"]:
            key = attachment.pop("storage_key", None)
            attachment["content_base64"] = await self._content(key)
        return {
            "object": "chatkit.user_data_export",
            "user": user,
            "exported_at": int(time.time()),
            **rows,
        }

    async def erase(self, user: str) -> dict[str, Any]:
        """Delete everything of the user; a receipt of what went. Webhook deliveries already
        written stay: they are the integrator's, not the user's."""
        check_text(user, "user")
        sessions = await self._repo.session_limits(user)
        removed = await self._repo.remove(user)
        await remove_leftovers(removed, self._blobs, self._journal)
        for session_id, per_minute in sessions:
            await self._rate_limits.forget(session_id, per_minute)
        return {
            "object": "chatkit.user_data_erasure",
            "user": user,
            "erased_at": int(time.time()),
            "deleted": removed.counts(),
        }

    async def _content(self, key: str | None) -> str | None:
        if not key:
            return None
        try:
            data = await self._blobs.read(key)
        except FileNotFoundError:
            return None
        return base64.b64encode(data).decode("ascii")
