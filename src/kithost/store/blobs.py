"""Uploaded bytes on local disk under ``KITHOST_DATA_DIR/files``.

Keys are ids kithost made itself (checked against a strict pattern); a user's file name never
reaches the file system.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

from kithost.core.blobs import TooLarge

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class LocalBlobStorage:
    def __init__(self, root: Path):
        self._root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("invalid blob key")
        return self._root / key[-2:] / key

    async def write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int) -> int:
        path = self._path(key)
        partial = path.with_name(path.name + ".partial")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(open, partial, "wb")
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, partial, path)
        return size

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def read_slices(self, key: str, size: int) -> AsyncIterator[bytes]:
        """The bytes in slices of ``size`` (the last may be shorter), read off the event loop.
        FileNotFoundError on the first slice when there are none."""
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while piece := await asyncio.to_thread(handle.read, size):
                yield piece
        finally:
            await asyncio.to_thread(handle.close)
