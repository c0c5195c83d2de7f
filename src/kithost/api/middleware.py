"""Pure ASGI middleware around the whole app: request ids, timing, the last-resort 500 (a 503
for a lost database connection), and each request's metrics and structured log line.

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
from kithost.observability import metrics
from kithost.observability.logging import log_fields
from kithost.store.database import lost_connection

log = logging.getLogger("kithost.api")

LOST_DATABASE_MESSAGE = (
    "The server lost its database connection while processing your request; it has opened "
    "new ones. Please retry the request."
)


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
        status = 500  # what the client gets when nothing was sent

        async def send_with_id(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["openai-processing-ms"] = str(int((time.perf_counter() - started) * 1000))
                headers["openai-version"] = "2020-10-01"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = 499  # nginx's "client closed request": nobody got an answer
            # The client hung up (or was cut off for sending too slowly) before its whole body
            # arrived: nobody is left to answer, and nothing went wrong on this side.
            log.info(
                "client gone before its request body arrived: %s %s (request %s)",
                scope["method"],
                scope["path"],
                request_id,
            )
        except Exception as error:
            lost = lost_connection(error)
            if lost:
                log.warning(
                    "database connection lost on %s %s (request %s); the pool is renewed",
                    scope["method"],
                    scope["path"],
                    request_id,
                )
            else:
                log.exception(
                    "unhandled error on %s %s (request %s)",
                    scope["method"],
                    scope["path"],
                    request_id,
                )
            if response_started:
                raise
            # A lost connection is the one failure a retry cures (the SDKs retry a 503).
            message, code = (
                (LOST_DATABASE_MESSAGE, "lost_database_connection")
                if lost
                else (INTERNAL_ERROR_MESSAGE, None)
            )
            body = json.dumps(envelope(message, "server_error", code=code)).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 503 if lost else 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            _record(scope, request_id, status, time.perf_counter() - started)


def _record(scope: Scope, request_id: str, status: int, seconds: float) -> None:
    """The request's metrics and its one log line (the route's template, never the raw path,
    which can carry ids and signed links)."""
    route = route_template(scope)
    metrics.http_request(scope["method"], route, status, seconds)
    log.info(
        "%s %s %d",
        scope["method"],
        route,
        status,
        extra=log_fields(
            event="request",
            request_id=request_id,
            method=scope["method"],
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 1),
            session_id=scope.get("state", {}).get("session_id"),
        ),
    )


def route_template(scope: Scope) -> str:
    """``/v1/chatkit/threads/{thread_id}`` for the route that answered; a mounted app's prefix
    (``/static/{path}``); ``unmatched`` when no route knew the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    mounted = scope.get("root_path", "")
    if mounted and mounted != scope.get("app_root_path", ""):
        return f"{mounted}/{{path}}"
    return metrics.UNMATCHED_ROUTE
