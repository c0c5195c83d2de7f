"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, for the console tests.

Playwright's own browser download cannot run here: the tests use ``/usr/bin/chromium``, which
``make test`` installs with apt-get. A missing browser fails the tests, never skips them.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.support.process import ADMIN_KEY

CHROMIUM = Path(os.environ.get("KITHOST_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Beta": "chatkit_beta=v1"}
# Where screenshots go: docs/ when KITHOST_SCREENSHOT_DIR says so (`make screenshots`).
SCREENSHOT_DIR_VARIABLE = "KITHOST_SCREENSHOT_DIR"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Launch Debian's Chromium headless; fail clearly when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: `make test` installs Debian's package "
            "(apt-get install -y chromium); the console's browser tests need it.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageProblems:
    """Uncaught script errors and Content-Security-Policy refusals seen by a page."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"CSP: {text}")


@dataclass
class ConsoleUser:
    """One person at kithost's chat page: signs in with the demo form and chats."""

    page: Page
    base_url: str

    def sign_in(
        self,
        user: str,
        workflow: str = "wf_kithost_demo",
        state_variables: dict[str, Any] | None = None,
        max_file_size: int | None = None,
        max_files: int | None = None,
        history: bool = True,
    ) -> None:
        page = self.page
        page.goto(f"{self.base_url}/")
        page.get_by_label("User").fill(user)
        page.get_by_label("Workflow").select_option(workflow)
        page.get_by_text("Session options").click()
        if state_variables is not None:
            page.get_by_label("State variables").fill(json.dumps(state_variables))
        if max_file_size is not None:
            page.get_by_label("Max file size").fill(str(max_file_size))
        if max_files is not None:
            page.get_by_label("Max files").fill(str(max_files))
        page.get_by_label("Keep a history").set_checked(history)
        page.get_by_role("button", name="Start chatting").click()
        expect(self.composer).to_be_enabled()

    @property
    def chat(self) -> Any:
        return self.page.locator("kithost-chat")

    @property
    def composer(self) -> Any:
        return self.page.get_by_role("textbox", name="Message")

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.page.get_by_role("button", name="Send").click()

    @property
    def assistant_messages(self) -> Any:
        return self.page.locator("article.kc-assistant")

    @property
    def user_messages(self) -> Any:
        return self.page.locator("article.kc-user:not(.kc-pending)")

    def thread_row(self, title: str) -> Any:
        return self.page.locator("li.kc-thread").filter(has_text=title)


def screenshot_path(fallback_dir: Path, name: str) -> Path:
    """``docs/<name>`` when screenshots are being refreshed, else a throwaway file."""
    target = os.environ.get(SCREENSHOT_DIR_VARIABLE)
    return Path(target) / name if target else fallback_dir / name


def admin_get(base_url: str, path: str, **params: Any) -> Any:
    """A GET on the control plane, as an operator's script would make it."""
    response = httpx.get(
        f"{base_url}/v1/chatkit{path}", headers=ADMIN_HEADERS, params=params, timeout=10
    )
    response.raise_for_status()
    return response.json()


def user_threads(base_url: str, user: str) -> list[dict[str, Any]]:
    return list(admin_get(base_url, "/threads", user=user, limit=100)["data"])


def thread_items(base_url: str, thread_id: str) -> list[dict[str, Any]]:
    return list(admin_get(base_url, f"/threads/{thread_id}/items", order="asc", limit=100)["data"])


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A small, valid PNG (an indigo square)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x4f\x46\xe5" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# An app's page that embeds the chat from kithost, on another origin, as docs/embed.md shows.
HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Host app</title>
  <script type="module" src="{kithost}/static/kithost-chat.js"></script>
</head>
<body>
  <h1>Host app</h1>
  <kithost-chat id="chat" style="height: 600px"></kithost-chat>
  <script type="module">
    const chat = document.getElementById("chat");
    await customElements.whenDefined("kithost-chat");
    chat.setOptions({{
      api: {{
        url: "{kithost}/v1/chatkit/conversation",
        // The app's backend mints a kithost session for the signed-in user.
        getClientSecret: async () => {{
          const response = await fetch("/api/chatkit/session", {{ method: "POST" }});
          return (await response.json()).client_secret;
        }},
      }},
    }});
  </script>
</body>
</html>
"""


@contextmanager
def host_app(kithost_url: str, user: str, workflow: str = "wf_kithost_demo") -> Iterator[str]:
    """A tiny app on its own origin: the page above, and a backend that mints sessions for
    ``user`` with kithost's admin API. Yields the app's URL."""
    page = HOST_PAGE.format(kithost=kithost_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200, "text/html; charset=utf-8", page)

        def do_POST(self) -> None:
            if self.path != "/api/chatkit/session":
                self._answer(404, "text/plain", b"not found")
                return
            session = httpx.post(
                f"{kithost_url}/v1/chatkit/sessions",
                headers=ADMIN_HEADERS,
                json={"user": user, "workflow": {"id": workflow}},
                timeout=10,
            ).json()
            body = {"client_secret": session["client_secret"], "expires_at": session["expires_at"]}
            self._answer(200, "application/json", json.dumps(body).encode())

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
