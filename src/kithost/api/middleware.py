"""Pure ASGI middleware around the whole app: request ids, timing, and the last-resort 500.

Pure ASGI rather than ``BaseHTTPMiddleware``, which buffers and breaks streaming responses. It
sits outside every handler so that even an unexpected error answers with the OpenAI envelope and
an ``x-request-id``, and never with a traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kithost.api.errors import INTERNAL_ERROR_MESSAGE, envelope

log = logging.getLogger("kithost.api")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(16)}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["openai-processing-ms"] = str(int((time.perf_counter() - started) * 1000))
                headers["openai-version"] = "2020-10-01"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client hung up (or was cut off for sending too slowly) before its whole body
            # arrived: nobody is left to answer, and nothing went wrong on this side.
            log.info(
                "client gone before its request body arrived: %s %s (request %s)",
                scope["method"],
                scope["path"],
                request_id,
            )
        except Exception:
            log.exception(
                "unhandled error on %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if response_started:
                raise
            body = json.dumps(envelope(INTERNAL_ERROR_MESSAGE, "server_error")).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
