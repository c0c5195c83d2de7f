"""A fake web search service on a real socket: SearXNG's JSON API, Tavily and Brave Search.

One small HTTP app answers all three wire formats, so a test points whichever kithost setting
it exercises at it:

- SearXNG: ``GET /search?q=…&format=json`` (``KITHOST_WEB_SEARCH_URL``),
- Tavily: ``POST /search`` with a JSON body and a Bearer key (``KITHOST_TAVILY_BASE_URL``),
- Brave: ``GET /res/v1/web/search?q=…&count=…`` with ``X-Subscription-Token``
  (``KITHOST_BRAVE_BASE_URL``).

Every request is recorded. Answers are made up from the query (SearXNG gives twenty results, as a
real instance gives a page; the others honour the count asked for), or scripted per test:
``search.script(results=[...])``, ``search.script(status=500)``, ``search.script(hang=True)``.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl

import uvicorn
from starlette.types import Receive, Scope, Send

Backend = Literal["searxng", "tavily", "brave"]
SEARXNG_PAGE = 20


@dataclass(frozen=True)
class Hit:
    """One result as the fake serves it."""

    title: str
    url: str
    snippet: str


@dataclass
class SearchRequest:
    backend: Backend
    query: str
    params: dict[str, Any]
    """Query-string parameters (GET) or the JSON body (Tavily's POST)."""
    headers: dict[str, str]


@dataclass
class Scripted:
    results: list[Hit] | None = None
    status: int = 200
    hang: bool = False


@dataclass
class FakeSearchApp:
    requests: list[SearchRequest] = field(default_factory=list)
    queue: deque[Scripted] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.closing is None:
            self.loop, self.closing = asyncio.get_running_loop(), asyncio.Event()
        body = await _body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        params = dict(parse_qsl(scope["query_string"].decode()))
        method, path = scope["method"], scope["path"].rstrip("/")
        if method == "GET" and path == "/search" and params.get("format") == "json":
            request = SearchRequest("searxng", params.get("q", ""), params, headers)
        elif method == "POST" and path == "/search":
            payload = json.loads(body or b"{}")
            request = SearchRequest("tavily", str(payload.get("query", "")), payload, headers)
        elif method == "GET" and path == "/res/v1/web/search":
            request = SearchRequest("brave", params.get("q", ""), params, headers)
        else:
            # SearXNG without `json` in its formats answers 403, as here.
            await _send(send, 403 if path == "/search" else 404, {"error": "not served"})
            return
        with self.lock:
            self.requests.append(request)
            scripted = self.queue.popleft() if self.queue else Scripted()
        if scripted.hang:
            await self.closing.wait()  # until the fake stops: the client gives up first
            return
        if scripted.status != 200:
            await _send(send, scripted.status, {"error": "the fake search fails on purpose"})
            return
        hits = scripted.results if scripted.results is not None else made_up(request.query)
        await _send(send, 200, _render(request, hits))

    def close(self) -> None:
        if self.loop is not None and self.closing is not None:
            self.loop.call_soon_threadsafe(self.closing.set)


def made_up(query: str) -> list[Hit]:
    """A page of plausible results for ``query`` (on the ``site:`` it names, if any)."""
    site = re.search(r"site:(\S+)", query)
    words = re.sub(r"\(?site:\S+\)?|\bOR\b", "", query).split()
    slug = "-".join(re.sub(r"\W", "", word.lower()) for word in words)[:60] or "page"
    topic = " ".join(words)
    return [
        Hit(
            title=f"{topic} — result {n}",
            url=f"https://{site.group(1) if site else f'site{n}.example'}/{slug}/{n}",
            snippet=f"Snippet {n} about {topic}.",
        )
        for n in range(1, SEARXNG_PAGE + 1)
    ]


def _render(request: SearchRequest, hits: list[Hit]) -> dict[str, Any]:
    if request.backend == "searxng":
        results = [
            {"url": h.url, "title": h.title, "content": h.snippet, "engine": "fake", "score": 1.0}
            for h in hits
        ]
        return {"query": request.query, "number_of_results": len(results), "results": results}
    count = int(request.params.get("count" if request.backend == "brave" else "max_results", 5))
    if request.backend == "tavily":
        results = [
            {"title": h.title, "url": h.url, "content": h.snippet, "score": 0.9}
            for h in hits[:count]
        ]
        return {"query": request.query, "results": results, "response_time": 0.01}
    # Brave marks the words that matched in its descriptions.
    results = [
        {"title": h.title, "url": h.url, "description": f"<strong>{h.snippet}</strong>"}
        for h in hits[:count]
    ]
    return {"type": "search", "web": {"type": "search", "results": results}}


async def _body(receive: Receive) -> bytes:
    raw, more = b"", True
    while more:
        message = await receive()
        raw += message.get("body", b"")
        more = bool(message.get("more_body"))
    return raw


async def _send(send: Send, status: int, body: Any) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


class FakeSearch:
    """The fake on 127.0.0.1 and a free port, served from a background thread."""

    def __init__(self) -> None:
        self.app = FakeSearchApp()
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake search is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[SearchRequest]:
        with self.app.lock:
            return list(self.app.requests)

    def script(
        self, *, results: list[Hit] | None = None, status: int = 200, hang: bool = False
    ) -> None:
        """How the next unscripted request is answered."""
        with self.app.lock:
            self.app.queue.append(Scripted(results, status, hang))

    def reset(self) -> None:
        with self.app.lock:
            self.app.requests.clear()
            self.app.queue.clear()

    def start(self, timeout: float = 10.0) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="none",
            access_log=False,
            log_config=None,
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake search did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.app.close()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
