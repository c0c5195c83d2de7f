"""uvicorn's httptools HTTP/1.1 protocol with deadlines and a size bound for reading a request.

uvicorn closes idle keep-alive connections, but a client that sends its headers or its body a
byte at a time holds a connection (and its memory) for as long as it likes: one data packet
cancels the keep-alive timer and nothing re-arms it (slowloris). This subclass adds two clocks:

- headers: from connecting (or from a keep-alive request's first byte) to the end of its
  headers, at most ``KITHOST_HEADER_TIMEOUT_SECONDS``;
- body: from the end of the headers to the end of the body, ``KITHOST_BODY_TIMEOUT_SECONDS``
  plus a second per ``KITHOST_BODY_MIN_BYTES_PER_SECOND`` received, so a large upload at a
  decent rate is never cut. Time the app spends not reading (uvicorn stops reading the socket
  then) is not the client's: the clock starts again.

Responses are not timed: an SSE answer may stream for as long as it has something to say.
A late request is answered 408 in the OpenAI error envelope when nothing else was sent on the
connection yet, and the connection is closed.

httptools sets no bound on a request line and headers (h11's is 16 KiB): a client could send
megabytes of one header within the deadline. ``KITHOST_MAX_HEADER_BYTES`` bounds them: 431.
"""

from __future__ import annotations

import asyncio
import json
import logging
from asyncio import TimerHandle
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from kithost.api.errors import envelope
from kithost.settings import Settings

log = logging.getLogger("kithost.serving")


@dataclass(frozen=True)
class ReadLimits:
    header_seconds: float
    body_seconds: float
    body_min_bytes_per_second: float
    max_header_bytes: int


@cache
def configured_limits() -> ReadLimits:
    """Read once per process: uvicorn makes a protocol per connection (and its worker
    processes import this module afresh, so a value set on the class would not reach them)."""
    settings = Settings()
    return ReadLimits(
        header_seconds=settings.header_timeout_seconds,
        body_seconds=settings.body_timeout_seconds,
        body_min_bytes_per_second=settings.body_min_bytes_per_second,
        max_header_bytes=settings.max_header_bytes,
    )


def error_response(status: int, message: str, code: str) -> bytes:
    """A whole response in the OpenAI error envelope, for a request the app never sees."""
    body = json.dumps(envelope(message, "invalid_request_error", code=code)).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def late(message: str) -> bytes:
    return error_response(408, message, "request_timeout")


class TimedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = configured_limits()
        self._header_timer: TimerHandle | None = None
        self._body_timer: TimerHandle | None = None
        self._request_begun = False  # a byte of the current request has arrived
        self._body_window_start = 0.0
        self._body_bytes = 0  # received since the window started
        self._awaiting_headers = True  # no request yet, or the current one's headers incomplete
        self._header_bytes = 0  # of the current request's line and headers, about
        self._request_started = False  # during one data_received: a request line began

    # connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self._later(self.limits.header_seconds, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counted = self._awaiting_headers
        self._request_started = False
        super().data_received(data)
        # Count only reads that fall wholly inside one request's head: one that also carries
        # the end of a previous request is uncounted (it holds at most one read's worth).
        if not (counted and self._awaiting_headers and not self._request_started):
            return
        self._header_bytes += len(data)
        if self._header_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            log.info(
                "request headers from %s over %d bytes: connection closed",
                self._peer(),
                self.limits.max_header_bytes,
            )
            self._cancel_header_timer()
            self._close_early(
                error_response(
                    431,
                    f"The request line and headers are over {self.limits.max_header_bytes} bytes.",
                    "request_headers_too_large",
                ),
                answer=self.cycle is None or self.cycle.response_complete,
            )

    def handle_websocket_upgrade(self) -> None:
        # The connection belongs to the WebSocket protocol from here on.
        self._cancel_timers()
        super().handle_websocket_upgrade()

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._request_started = True
        self._header_bytes = 0
        if self._header_timer is None:  # a keep-alive connection's next request
            self._header_timer = self._later(self.limits.header_seconds, self._headers_late)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._awaiting_headers = False
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            return
        self._start_body_window()
        self._body_timer = self._later(self.limits.body_seconds, self._check_body)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._request_begun = False
        self._awaiting_headers = True
        self._cancel_body_timer()
        super().on_message_complete()

    # deadlines

    def _later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.loop.call_later(delay, callback)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()

    def _start_body_window(self) -> None:
        self._body_window_start = self.loop.time()
        self._body_bytes = 0

    def _body_deadline(self) -> float:
        rate = self.limits.body_min_bytes_per_second
        allowance = self._body_bytes / rate if rate > 0 else 0.0
        return self._body_window_start + self.limits.body_seconds + allowance

    def _check_body(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # uvicorn stopped reading until the app takes what it has: the client waits on us.
            self._start_body_window()
        remaining = self._body_deadline() - self.loop.time()
        if remaining > 0:
            self._body_timer = self._later(remaining, self._check_body)
            return
        log.info(
            "request body from %s too slow (%d bytes in the last %.0f s): connection closed",
            self._peer(),
            self._body_bytes,
            self.loop.time() - self._body_window_start,
        )
        # No 408 once the app has answered (it answered without reading the whole body).
        answer = self.cycle is not None and not self.cycle.response_started
        self._close_early(
            late(
                "The request body did not arrive in time: send it faster, or in smaller requests."
            ),
            answer,
        )

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._request_begun:
            # Nothing sent since connecting: an idle (perhaps preconnected) socket, closed quietly.
            self.transport.close()
            return
        log.info(
            "request headers from %s not complete after %g s: connection closed",
            self._peer(),
            self.limits.header_seconds,
        )
        # No 408 while an earlier request on the connection is still being answered.
        answer = self.cycle is None or self.cycle.response_complete
        self._close_early(late("The request headers did not arrive in time."), answer)

    def _close_early(self, response: bytes, answer: bool) -> None:
        """Send ``response`` (when ``answer``: nothing else is being sent) and close."""
        if answer:
            self.transport.write(response)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # What connection_lost does, at once: the app's receive() sees a disconnect and
            # anything it still sends is dropped rather than written after the 408.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
