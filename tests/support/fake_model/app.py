"""The fake provider as a plain ASGI app.

Plain ASGI rather than a framework so the fake controls exactly what goes on the wire:
pacing, cutting a stream, dropping the connection, and noticing when the client leaves.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from tests.support.fake_model import chat, embeddings, moderations, responses, validation
from tests.support.fake_model.recorded import Api, ModelRequest, Outcome
from tests.support.fake_model.replies import Reply
from tests.support.fake_model.script import Script
from tests.support.fake_model.wire import Frame, Renderer

ROUTES: dict[str, tuple[Api, Renderer]] = {
    "/v1/chat/completions": ("chat", chat.RENDERER),
    "/v1/responses": ("responses", responses.RENDERER),
}
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_GARBAGE_EVENT = b'data: {"choices": [{"delta": garbage\n\n'
_GARBAGE_BODY = b"<html>502 Bad Gateway</html>"


class DropConnection(Exception):
    """Raised by the app: uvicorn closes the socket (mid-body if the response started)."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging intentional drops as 'Exception in ASGI application'."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def envelope(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI's error body, which the openai SDK turns into its typed errors."""
    return {"error": {"message": message, "type": type, "param": None, "code": None}}


async def _send_json(
    send: Send, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()
) -> None:
    raw_headers = [(b"content-type", b"application/json")]
    raw_headers += [(key.encode(), value.encode()) for key, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


class FakeModelApp:
    """Routes ``POST /v1/chat/completions``, ``POST /v1/responses``, ``POST /v1/moderations``,
    ``POST /v1/embeddings``,
    ``GET /v1/models`` and, for a fake in another process, ``GET /_fake/requests`` (the
    recorded requests as JSON)."""

    def __init__(
        self, script: Script, models: Sequence[str] = ("gpt-fake",), validate: bool = True
    ) -> None:
        self.script = script
        self.models = list(models)
        self.validate = validate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None

    def close(self) -> None:
        """Thread-safe: end every in-flight reply now (hangs included) so the server stops."""
        if self._loop is not None and self._closing is not None:
            self._loop.call_soon_threadsafe(self._closing.set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self._closing is None:
            self._loop, self._closing = asyncio.get_running_loop(), asyncio.Event()
        method, path = scope["method"], scope["path"].rstrip("/")
        if method == "POST" and path in ROUTES:
            await self._model_call(scope, receive, send, *ROUTES[path])
        elif method == "POST" and path == "/v1/moderations":
            await self._moderation_call(scope, receive, send)
        elif method == "POST" and path == "/v1/embeddings":
            await self._embedding_call(scope, receive, send)
        elif method == "GET" and path == "/v1/models":
            models = [self._model(model) for model in self.models]
            await _send_json(send, 200, {"object": "list", "data": models})
        elif method == "GET" and path.startswith("/v1/models/"):
            await _send_json(send, 200, self._model(path.removeprefix("/v1/models/")))
        elif method == "GET" and path == "/_fake/requests":
            await _send_json(send, 200, [_summary(request) for request in self.script.requests])
        else:
            await _send_json(send, 404, envelope(f"Invalid URL ({method} {path})"))

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "kithost-fake"}

    async def _model_call(
        self, scope: Scope, receive: Receive, send: Send, api: Api, renderer: Renderer
    ) -> None:
        body = await _read_json(receive)
        if not isinstance(body, dict):
            await _send_json(send, 400, envelope("The request body is not a JSON object."))
            return
        headers = _headers(scope)
        request = ModelRequest(api=api, path=scope["path"], body=body, headers=headers)
        self.script.record(request)
        request.problem = validation.problem(request) if self.validate else None
        if request.problem:
            request.finish("rejected")
            await _send_json(send, 400, envelope(request.problem))
            return
        try:
            reply = self.script.choose(request)
        except Exception as exc:  # a faulty responder in a test: say so, and log it
            request.finish("error")
            await _send_json(send, 500, envelope(f"fake script failed: {exc!r}", "server_error"))
            raise
        outcome = request.finish(await self._answer(request, reply, renderer, receive, send))
        if outcome == "stopped" or reply.ending == "abort":
            raise DropConnection

    async def _moderation_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """OpenAI's moderation endpoint: recorded and scripted like model calls, not streamed."""
        body = await _read_json(receive)
        if not isinstance(body, dict) or "input" not in body:
            await _send_json(send, 400, envelope("Missing required parameter: 'input'."))
            return
        headers = _headers(scope)
        request = ModelRequest(api="moderations", path=scope["path"], body=body, headers=headers)
        self.script.record(request)
        reply = self.script.choose(request)
        if reply.http_error is not None:
            request.finish("error")
            failure = reply.http_error
            await _send_json(send, failure.status, failure.envelope(), failure.headers.items())
            return
        request.finish("completed")
        await _send_json(send, 200, moderations.body(request, reply))

    async def _embedding_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Deterministic vectors (see ``embeddings``); recorded, and failing when scripted to."""
        body = await _read_json(receive)
        if not isinstance(body, dict):
            await _send_json(send, 400, envelope("The request body is not a JSON object."))
            return
        headers = _headers(scope)
        request = ModelRequest(api="embeddings", path=scope["path"], body=body, headers=headers)
        self.script.record(request)
        request.problem = embeddings.problem(body)
        if request.problem:
            request.finish("rejected")
            await _send_json(send, 400, envelope(request.problem))
            return
        # Only a rule (``fake.when(lambda r: r.api == "embeddings", error(…))``) changes the
        # answer: queued replies are for model calls. A rule's delay (``delayed(s)``,
        # ``error(delay=s)``) comes first.
        reply = self.script.choose_rule(request)
        if reply is not None and reply.first_token_delay:
            await asyncio.sleep(reply.first_token_delay)
        if reply is not None and reply.http_error is not None:
            request.finish("error")
            failure = reply.http_error
            await _send_json(send, failure.status, failure.envelope(), failure.headers.items())
            return
        request.finish("completed")
        await _send_json(send, 200, embeddings.body(request))

    async def _answer(
        self, request: ModelRequest, reply: Reply, renderer: Renderer, receive: Receive, send: Send
    ) -> Outcome:
        """Answer, unless the client leaves first (Stop, timeout: ``disconnected``) or the
        fake shuts down (``stopped``)."""
        assert self._closing is not None
        closing = self._closing
        outcome: Outcome = "disconnected"
        async with anyio.create_task_group() as group:

            async def watch_client() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            async def watch_closing() -> None:
                nonlocal outcome
                await closing.wait()
                outcome = "stopped"
                group.cancel_scope.cancel()

            group.start_soon(watch_client)
            group.start_soon(watch_closing)
            if reply.http_error is not None:
                failure = reply.http_error
                await asyncio.sleep(reply.first_token_delay)
                outcome = request.finish("error")
                await _send_json(send, failure.status, failure.envelope(), failure.headers.items())
            elif request.stream:
                outcome = await self._stream(request, reply, renderer, send)
            else:
                outcome = await self._respond(request, reply, renderer, send)
            group.cancel_scope.cancel()
        return outcome

    async def _stream(
        self, request: ModelRequest, reply: Reply, renderer: Renderer, send: Send
    ) -> Outcome:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        deltas: Iterable[str] = reply.deltas
        if reply.ending == "repeat":
            deltas = itertools.cycle(reply.deltas or ("token ",))
        frames: Iterable[Frame] = renderer.stream(request, reply, deltas)
        if reply.ending not in ("finish", "repeat"):
            frames = _cut(list(frames))
        paced = sent = 0
        for frame in frames:
            sent += 1
            if frame.kind != "open":
                delay = reply.first_token_delay if paced == 0 else reply.token_interval
                if delay and (paced == 0 or frame.kind == "token"):
                    await asyncio.sleep(delay)
                paced += 1
            await send({"type": "http.response.body", "body": frame.encode(), "more_body": True})
        if reply.ending == "hang":
            await anyio.sleep_forever()
        if reply.ending == "abort":
            return "broken"
        tail = b""
        if reply.ending == "garbage":
            tail = _GARBAGE_EVENT
        elif reply.ending == "error_event":
            tail = renderer.error_frame(reply.error_message, sent).encode()
        outcome = request.finish("completed" if reply.ending == "finish" else "broken")
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        return outcome

    async def _respond(
        self, request: ModelRequest, reply: Reply, renderer: Renderer, send: Send
    ) -> Outcome:
        """Non-streaming: wait as long as streaming the tokens would take, then answer."""
        steps = max(reply.token_count - 1, 0)
        await asyncio.sleep(reply.first_token_delay + reply.token_interval * steps)
        if reply.ending in ("hang", "repeat"):
            await anyio.sleep_forever()
        if reply.ending == "error_event":
            status, failed = renderer.failed_body(request, reply.error_message)
            outcome = request.finish("broken")
            await _send_json(send, status, failed)
            return outcome
        payload = json.dumps(renderer.body(request, reply)).encode()
        if reply.ending == "finish":
            outcome = request.finish("completed")
            await _send_json(send, 200, json.loads(payload))
            return outcome
        # garbage: not JSON; truncate: half the JSON; abort: half, then the socket closes.
        body = _GARBAGE_BODY if reply.ending == "garbage" else payload[: len(payload) // 2]
        length = len(payload) if reply.ending == "abort" else len(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        outcome = request.finish("broken")
        await send({"type": "http.response.body", "body": body, "more_body": length > len(body)})
        return outcome


def _cut(frames: list[Frame]) -> list[Frame]:
    """Frames up to the last token (or up to the opening frames if there is no token)."""
    tokens = [i for i, frame in enumerate(frames) if frame.kind == "token"]
    opening = [i for i, frame in enumerate(frames) if frame.kind == "open"]
    last = tokens[-1] if tokens else opening[-1] if opening else -1
    return frames[: last + 1]


def _summary(request: ModelRequest) -> dict[str, Any]:
    return {
        "api": request.api,
        "path": request.path,
        "outcome": request.outcome,
        "body": request.body,
    }


async def _read_json(receive: Receive) -> Any:
    """The whole request body as JSON, or None when it is not JSON."""
    raw = b""
    more = True
    while more:
        message = await receive()
        raw += message.get("body", b"")
        more = bool(message.get("more_body"))
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
