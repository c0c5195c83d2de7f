"""Data rights: everything kithost holds about one user, exported as JSON, or erased."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from kithost.core.validation import check_text
from kithost.data_rights.export_stream import BlobReader, export_json
from kithost.data_rights.retention import BlobDeleter, Journal, RateLimitKeys, remove_leftovers
from kithost.store.user_data import UserDataRepository


class BlobStore(BlobDeleter, BlobReader, Protocol):
    pass


@dataclass(frozen=True)
class UserExport:
    """A user's export, ready to write: ``counts`` per kind, ``chunks`` the JSON document."""

    counts: dict[str, int]
    chunks: AsyncIterator[bytes]


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

    async def export(self, user: str) -> UserExport:
        """One JSON document: sessions (no secret), threads, items, feedback, runs, and each
        attachment with its bytes in ``content_base64`` (null when none were uploaded).

        The rows are read here (a bad user id fails before anything is written); the
        attachments' bytes are read as the document is written, a slice at a time."""
        check_text(user, "user")
        rows = await self._repo.rows(user)
        header = {
            "object": "chatkit.user_data_export",
            "user": user,
            "exported_at": int(time.time()),
        }
        counts = {kind: len(records) for kind, records in rows.items()}
        return UserExport(counts, export_json(header, rows, self._blobs))

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
