"""A webhook receiver for tests: a real HTTP server on a thread of the test process.

Each hook (a path of its own) verifies every delivery's Standard Webhooks signature with the
``standardwebhooks`` library, as an app would, and answers as the test tells it: at once,
with a 500 to a delivery's first attempts, with a 500 while refusing, or never (the
connection is accepted and left hanging).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HANG_LIMIT_SECONDS = 120.0


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]
    verified: bool
    status: int | None  # what the hook answered (None: it hung)

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.event["data"]
        return data


@dataclass
class Hook:
    """One endpoint's receiving side; its settings may change while deliveries arrive."""

    path: str
    secret: str = ""
    fail_first: int = 0  # answer 500 to each delivery's first attempts
    refusing: bool = False  # answer 500 while set
    hang: bool = False  # never answer
    received: list[Received] = field(default_factory=list)

    def answer(self, webhook_id: str) -> int | None:
        if self.hang:
            return None
        seen = sum(1 for r in self.received if r.webhook_id == webhook_id)
        return 500 if self.refusing or seen < self.fail_first else 200

    def of(self, user: str, event_type: str | None = None) -> list[Received]:
        """What arrived about ``user``'s threads and runs (other tests' events are ignored)."""
        return [
            r
            for r in list(self.received)
            if r.data.get("user") == user and (event_type is None or r.type == event_type)
        ]

    def attempts(self) -> Counter[str]:
        return Counter(r.webhook_id for r in list(self.received))


class WebhookReceiver:
    def __init__(self) -> None:
        self.hooks: dict[str, Hook] = {}
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def hook(self, **settings: Any) -> Hook:
        hook = Hook(path=f"/hooks/{uuid.uuid4().hex}", **settings)
        self.hooks[hook.path] = hook
        return hook

    def url(self, hook: Hook) -> str:
        return self.base_url + hook.path

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length", "0")))
        hook = self.hooks.get(request.path)
        if hook is None:
            request.send_response(404)
            request.end_headers()
            return
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            event = Webhook(hook.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            event, verified = json.loads(body), False
        webhook_id = headers.get("webhook-id", "")
        status = hook.answer(webhook_id)
        hook.received.append(Received(webhook_id, headers, body, event, verified, status))
        if status is None:
            self._release.wait(HANG_LIMIT_SECONDS)
            return
        request.send_response(status)
        request.send_header("content-length", "0")
        request.end_headers()

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
