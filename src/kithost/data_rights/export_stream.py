"""A user's export written as JSON piece by piece, so that at most one slice of one attachment's
bytes is in memory at a time, however many files the user uploaded."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

# Read attachments in slices of this many bytes: a multiple of 3, so that the base64 of each
# slice joins the next with no padding in between.
SLICE_BYTES = 3 * 64 * 1024


class BlobReader(Protocol):
    def read_slices(self, key: str, size: int) -> AsyncIterator[bytes]: ...


async def export_json(
    header: dict[str, Any],
    rows: dict[str, list[dict[str, Any]]],
    blobs: BlobReader,
) -> AsyncIterator[bytes]:
    """``{**header, "sessions": […], …}``; each attachment's ``storage_key`` becomes
    ``content_base64`` (its bytes, or null when none are stored)."""
    yield json.dumps(header)[:-1].encode()
    for name, records in rows.items():
        yield f", {json.dumps(name)}: [".encode()
        for n, record in enumerate(records):
            if n:
                yield b", "
            if name == "attachments":
                async for piece in _attachment(record, blobs):
                    yield piece
            else:
                yield json.dumps(record).encode()
        yield b"]"
    yield b"}"


async def _attachment(record: dict[str, Any], blobs: BlobReader) -> AsyncIterator[bytes]:
    fields = {key: value for key, value in record.items() if key != "storage_key"}
    yield json.dumps(fields)[:-1].encode()
    yield b', "content_base64": ' if fields else b'"content_base64": '
    key = record.get("storage_key")
    if not key:
        yield b"null}"
        return
    slices = blobs.read_slices(key, SLICE_BYTES)
    try:
        first = await anext(slices)
    except FileNotFoundError:
        yield b"null}"  # the row outlived its bytes (a lost data directory): say so, go on
        return
    except StopAsyncIteration:
        yield b'""}'
        return
    yield b'"'
    async for encoded in _base64(_chain(first, slices)):
        yield encoded
    yield b'"}'


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for piece in rest:
        yield piece


async def _base64(slices: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The base64 of the slices joined, in pieces: a slice whose length is not a multiple of 3
    (a short read) carries its last bytes over to the next, so the pieces make one valid text."""
    carry = b""
    async for piece in slices:
        data = carry + piece
        whole = len(data) - len(data) % 3
        carry = data[whole:]
        if whole:
            yield base64.b64encode(data[:whole])
    if carry:
        yield base64.b64encode(carry)
