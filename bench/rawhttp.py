"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the measured requests.

Why not httpx for the hot path: on this 2-core machine httpx spends about 1.3 ms of CPU per
request and its shared pool collapses at 64 connections (about 40 requests/s against the bare
anchor, where this client sustains thousands; see BENCHMARKS.md). A load generator that
costs more than the server under test measures itself. This client writes one pre-built request
per call and parses only the status line, ``content-length`` and chunked bodies; setup calls
still go through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass


class ProtocolError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def build_request(
    method: str, path: str, port: int, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> bytes:
    """The bytes of one request, ready to be written as they are, again and again."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; not shared between tasks."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if (
            self._reader is None
            or self._writer is None
            or self._writer.is_closing()
            or self._reader.at_eof()  # the server closed it while idle (keep-alive timeout)
        ):
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        return self._reader, self._writer

    async def request(self, raw: bytes) -> Response:
        """Send a pre-built request and read the whole answer."""
        reader, writer = await self._open()
        writer.write(raw)
        status, headers = await self._head(reader)
        chunks = [chunk async for chunk in self._body(reader, headers)]
        return Response(status, headers, b"".join(chunks))

    async def stream(self, raw: bytes) -> AsyncIterator[tuple[float, bytes]]:
        """Send a request and yield each body chunk with the ``perf_counter`` it arrived at.

        The status line comes first as ``(t, b"HTTP <status>")``.
        """
        reader, writer = await self._open()
        writer.write(raw)
        status, headers = await self._head(reader)
        yield time.perf_counter(), f"HTTP {status}".encode()
        async for chunk in self._body(reader, headers):
            yield time.perf_counter(), chunk

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def _head(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            await self.close()
            raise ProtocolError("connection closed before a response") from error
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def _body(
        self, reader: asyncio.StreamReader, headers: dict[str, str]
    ) -> AsyncIterator[bytes]:
        if "content-length" in headers:
            yield await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        else:
            yield await reader.read()
            await self.close()
            return
        if headers.get("connection", "").lower() == "close":
            await self.close()
