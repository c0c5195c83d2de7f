"""Request body sizes, enforced while the body streams in (pure ASGI, around every route).

Each route has a ceiling from the settings. A declared ``Content-Length`` over it is refused
before a byte of the body is read; a chunked body is counted as its chunks arrive and refused the
moment it passes. An upload route lowers its ceiling to the session's own limit once it knows
the session (``tighten_body_limit``). A refusal is 413 ``request_too_large`` in the OpenAI
envelope, whatever the route made of the error, with ``Connection: close``: the server reads no
more of that body (a connection kept alive would have to read it to its end first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kithost.api.errors import envelope
from kithost.core.limits import MEGABYTE, MULTIPART_OVERHEAD, RequestTooLarge
from kithost.core.sessions import DEFAULT_MAX_FILE_SIZE_MB
from kithost.settings import Settings

BUDGET_KEY = "kithost.body_budget"
CONVERSATION_PATH = "/v1/chatkit/conversation"
CHATKIT_FILES_PATH = "/v1/chatkit/files"
FILES_PATH = "/v1/files"
# A body left partly unread closes its connection once answered, unless what is left is at
# most this much (uvicorn then reads and drops it, and the connection can be reused).
SMALL_REMAINDER = 64 * 1024


@dataclass(frozen=True)
class BodyLimits:
    """The ceiling of each kind of route, in bytes."""

    conversation: int
    control: int
    chatkit_upload: int  # before the session is known: the largest any session may allow
    files: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            conversation=settings.max_conversation_body_bytes,
            control=settings.max_control_body_bytes,
            chatkit_upload=DEFAULT_MAX_FILE_SIZE_MB * MEGABYTE + MULTIPART_OVERHEAD,
            files=settings.max_file_bytes + MULTIPART_OVERHEAD,
        )

    def for_path(self, path: str) -> tuple[int, str]:
        """The ceiling for ``path`` and what a refusal says about it."""
        if path == CONVERSATION_PATH:
            return self.conversation, "KITHOST_MAX_CONVERSATION_BODY_BYTES"
        if path == CHATKIT_FILES_PATH or (
            path.startswith(CHATKIT_FILES_PATH + "/") and path.endswith("/upload")
        ):
            return self.chatkit_upload, "the largest upload a session may allow"
        if path == FILES_PATH:
            return self.files, "KITHOST_MAX_FILE_BYTES plus multipart framing"
        return self.control, "KITHOST_MAX_CONTROL_BODY_BYTES"


def _refusal(limit: int, why: str) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is too large: at most {limit} bytes are accepted here ({why})."
    )


class BodyBudget:
    """What one request's body may still bring; kept in the ASGI scope for the route."""

    def __init__(self, limit: int, why: str, declared: int | None, chunked: bool):
        self.limit = limit
        self.why = why
        self.declared = declared
        self.received = 0
        self.finished = not chunked and not declared
        # Whether closing is cheaper than reading what a route left unread.
        self.may_leave_much = chunked or (declared or 0) > SMALL_REMAINDER
        self.refused: RequestTooLarge | None = None

    def tighten(self, limit: int, why: str) -> None:
        """Lower the ceiling (never raise it); refuse now if the body is already past it."""
        if limit < self.limit:
            self.limit, self.why = limit, why
        if self.received > self.limit or (self.declared or 0) > self.limit:
            raise self._refuse()

    def count(self, message: Message) -> None:
        self.received += len(message.get("body", b""))
        if not message.get("more_body", False):
            self.finished = True
        if self.received > self.limit:
            raise self._refuse()

    def _refuse(self) -> RequestTooLarge:
        self.refused = _refusal(self.limit, self.why)
        return self.refused

    @property
    def close_after(self) -> bool:
        return self.refused is not None or (not self.finished and self.may_leave_much)


def tighten_body_limit(request: Request, limit: int, why: str) -> None:
    """A route's own, lower limit on its body (say, a session's upload size)."""
    budget = request.scope.get(BUDGET_KEY)
    if isinstance(budget, BodyBudget):
        budget.tighten(limit, why)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _send_refusal(send: Send, refusal: RequestTooLarge) -> None:
    body = json.dumps(
        envelope(refusal.message, refusal.error_type, refusal.param, refusal.code)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeGuard:
    def __init__(self, app: ASGIApp, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, why = self.limits.for_path(scope["path"])
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await _send_refusal(send, _refusal(limit, why))  # not a byte of the body read
            return
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        budget = BodyBudget(limit, why, declared, chunked)
        scope[BUDGET_KEY] = budget
        started = False
        replaced = False

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                budget.count(message)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                started = True
                if budget.refused is not None:
                    # Whatever the route made of the refusal (a 400 from a form parser that
                    # failed, say), the answer is the 413.
                    replaced = True
                    await _send_refusal(send, budget.refused)
                    return
                if budget.close_after:
                    MutableHeaders(scope=message)["connection"] = "close"
            elif replaced:
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except RequestTooLarge as refusal:
            if started:
                raise
            await _send_refusal(send, refusal)
