"""Where uploaded bytes live: a small interface, so disk can give way to object storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class BlobStorage(Protocol):
    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        """Store the bytes under ``key``; stop and raise ``TooLarge`` past ``max_bytes``."""

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Remove the bytes; a missing key is not an error."""


class TooLarge(Exception):
    """The upload went past its size limit; nothing was kept."""
