"""Client secrets in the browser: requests that meet an expiry or a 401 together share one new
secret. Checked in Chromium against a real kithost, for the ``kithostFetch`` that
docs/chatkit-js.md gives (loaded exactly as the page shows it) and for ``<kithost-chat>``'s
own client, with an app backend on another origin that counts the sessions it mints."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import ADMIN_HEADERS, PageProblems, chromium
from tests.support.process import KithostProcess

DOC = Path(__file__).resolve().parents[1] / "docs" / "chatkit-js.md"
PARALLEL = 6
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>App</title>
<script type="module">
  import { kithostFetch } from "/kithost-fetch.js";
  window.kithostFetch = kithostFetch;
</script></head><body><h1>App</h1></body></html>
"""
# Parallel ChatKit requests through a fetch function; their HTTP statuses.
BATCH = """async ([url, n]) => {
  const body = JSON.stringify({ type: "threads.list", params: { limit: 5 } });
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body };
  const requests = Array.from({ length: n }, () => window.kithostFetch(url, init));
  const answers = await Promise.all(requests);
  return answers.map((answer) => answer.status);
}"""


def documented_kithost_fetch() -> str:
    """The ``kithost-fetch.js`` block of docs/chatkit-js.md, as a reader copies it."""
    blocks = re.findall(r"```js\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    [module] = [block for block in blocks if block.startswith("// kithost-fetch.js")]
    return module


@dataclass
class AppBackend:
    """The app's ``POST /api/chatkit/session``: mints kithost sessions with the admin API."""

    kithost: KithostProcess
    user: str
    minted: list[dict[str, Any]] = field(default_factory=list)
    claim_expiring: bool = False
    """Answer ``expires_at`` as now, so the page renews before every request (a session that
    is about to expire), while the session itself stays valid."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mint(self) -> dict[str, Any]:
        response = httpx.post(
            f"{self.kithost.url}/v1/chatkit/sessions",
            headers=ADMIN_HEADERS,
            json={
                "user": self.user,
                "workflow": {"id": "wf_kithost_demo"},
                "rate_limits": {"max_requests_per_1_minute": 1000},
            },
            timeout=10,
        )
        session: dict[str, Any] = response.json()
        with self.lock:
            self.minted.append(session)
        expires_at = int(time.time()) if self.claim_expiring else session["expires_at"]
        return {"client_secret": session["client_secret"], "expires_at": expires_at}

    def cancel_latest(self) -> None:
        latest = self.minted[-1]["id"]
        response = httpx.post(
            f"{self.kithost.url}/v1/chatkit/sessions/{latest}/cancel",
            headers=ADMIN_HEADERS,
            json={},
            timeout=10,
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def app_backend(server: KithostProcess) -> Iterator[tuple[str, AppBackend]]:
    """The app on its own origin: the page, ``/kithost-fetch.js`` from the docs, the backend."""
    backend = AppBackend(server, f"secrets-{time.monotonic_ns()}")
    # The block imports kithost's module from the docs' placeholder host: this kithost here.
    module = documented_kithost_fetch().replace("https://chat.example.com", server.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/kithost-fetch.js":
                self._answer(200, "text/javascript", module)
            else:
                self._answer(200, "text/html; charset=utf-8", PAGE)

        def do_POST(self) -> None:
            self._answer(200, "application/json", json.dumps(backend.mint()).encode())

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{app.server_address[1]}", backend
    finally:
        app.shutdown()
        app.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser(server: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    problems = PageProblems()
    context = browser.new_context()
    context.set_default_timeout(20_000)
    opened = context.new_page()
    problems.watch(opened)
    yield opened
    context.close()
    assert problems.problems == []


def test_documented_kithost_fetch_shares_one_new_secret(
    page: Page, server: KithostProcess, app_backend: tuple[str, AppBackend]
) -> None:
    app_url, backend = app_backend
    page.goto(app_url)
    page.wait_for_function("typeof window.kithostFetch === 'function'")
    conversation = f"{server.url}/v1/chatkit/conversation"

    def batch() -> list[int]:
        statuses: list[int] = page.evaluate(BATCH, [conversation, PARALLEL])
        return statuses

    assert batch() == [200] * PARALLEL
    assert len(backend.minted) == 1  # the first requests waited for one secret together
    assert batch() == [200] * PARALLEL
    assert len(backend.minted) == 1

    backend.cancel_latest()  # every request now meets a 401
    assert batch() == [200] * PARALLEL
    assert len(backend.minted) == 2

    backend.claim_expiring = True
    backend.cancel_latest()
    assert batch() == [200] * PARALLEL
    assert len(backend.minted) == 3
    # Every request now finds the secret about to expire: they still mint one, together.
    assert batch() == [200] * PARALLEL
    assert len(backend.minted) == 4


def test_the_chat_elements_client_replaces_a_refused_secret_once(
    page: Page, server: KithostProcess, app_backend: tuple[str, AppBackend]
) -> None:
    """``<kithost-chat>``'s client: requests refused with one expired secret ask
    ``getClientSecret`` for one new secret between them."""
    app_url, backend = app_backend
    expired = httpx.post(
        f"{server.url}/v1/chatkit/sessions",
        headers=ADMIN_HEADERS,
        json={
            "user": backend.user,
            "workflow": {"id": "wf_kithost_demo"},
            "expires_after": {"anchor": "created_at", "seconds": 1},
        },
        timeout=10,
    ).json()["client_secret"]
    refused = 0
    for _ in range(100):  # until kithost refuses it: the secret has expired
        refused = httpx.post(
            f"{server.url}/v1/chatkit/conversation",
            headers={"Authorization": f"Bearer {expired}"},
            json={"type": "threads.list", "params": {}},
            timeout=10,
        ).status_code
        if refused == 401:
            break
        time.sleep(0.1)
    assert refused == 401
    fresh = backend.mint()["client_secret"]

    page.goto(app_url)
    result = page.evaluate(
        """async ([kithost, expired, fresh, n]) => {
          const { ChatKitClient } = await import(`${kithost}/static/chatkit-client.js`);
          let calls = 0;
          const client = new ChatKitClient({
            url: `${kithost}/v1/chatkit/conversation`,
            getClientSecret: async () => {
              calls += 1;
              // The first answer claims an hour, so only the server's 401 shows it expired.
              const hour = Date.now() / 1000 + 3600;
              if (calls === 1) return { client_secret: expired, expires_at: hour };
              return fresh;
            },
          });
          const answers = await Promise.all(
            Array.from({ length: n }, () => client.request("threads.list", { limit: 5 })),
          );
          return { calls, lists: answers.filter((answer) => Array.isArray(answer.data)).length };
        }""",
        [server.url, expired, fresh, PARALLEL],
    )
    assert result == {"calls": 2, "lists": PARALLEL}
