"""Durable runs in a real browser: kithost's chat element and ``/static/kithost-fetch.js``.

Headless Chromium (Debian's) drives a real ``kithost serve``. The echo workflow writes a long,
known answer slowly, so a reload, a second tab, a dropped connection or Stop lands mid-answer; the
answer's exact text says whether a word was lost or repeated.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from kithost.core.stop_reason import INTERRUPTED_NOTICE
from tests.support.browser import (
    ADMIN_HEADERS,
    ConsoleUser,
    admin_get,
    chromium,
    thread_items,
    user_threads,
)
from tests.support.databases import fresh_database
from tests.support.process import KithostProcess
from tests.support.waiting import eventually, unique

expect.set_options(timeout=20_000)

MESSAGE = "alpha beta gamma delta"
REPEAT = 100
# About ten seconds of answer: long enough that a reload or a second tab lands mid-answer.
SLOW = {"delay_ms": 25, "repeat": REPEAT}
FULL_ANSWER = " ".join(MESSAGE.split() * REPEAT)
STREAMING = re.compile(r"\bkc-streaming\b")
# Until the whole answer is written (it takes ~10 s; a loaded machine may take longer).
ANSWER_TIMEOUT = 90_000

# Sampled on every frame of the chat page: how many assistant bubbles were ever on screen at
# once, and whether the newest one's text ever got shorter (a bubble rebuilt from scratch).
WATCH_ANSWER = """
window.__answer = { maxBubbles: 0, shrank: false };
(function sample(previous) {
  let length = previous;
  const root = document.querySelector("kithost-chat")?.shadowRoot;
  if (root) {
    const bubbles = root.querySelectorAll("article.kc-assistant");
    window.__answer.maxBubbles = Math.max(window.__answer.maxBubbles, bubbles.length);
    const last = bubbles[bubbles.length - 1];
    length = last ? last.querySelector(".kc-markdown").textContent.length : 0;
    if (length < previous) window.__answer.shrank = true;
  }
  requestAnimationFrame(() => sample(length));
})(0);
"""


@pytest.fixture(scope="module")
def console_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """A kithost with the demo sign-in on, as ``make serve`` runs it."""
    workdir = tmp_path_factory.mktemp("console-runs")
    process = KithostProcess(database_url, workdir, {"KITHOST_DEMO_SIGNIN": "true"}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(console_server: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def user(page: Page, console_server: KithostProcess) -> ConsoleUser:
    return ConsoleUser(page, console_server.url)


def only_thread(base_url: str, user: str) -> dict[str, Any]:
    threads = eventually(lambda: user_threads(base_url, user) or None)
    assert len(threads) == 1
    return threads[0]


def thread_runs(base_url: str, thread_id: str) -> list[dict[str, Any]]:
    return list(admin_get(base_url, f"/threads/{thread_id}/runs")["data"])


def finished_run(base_url: str, run_id: str) -> dict[str, Any]:
    """The run (``GET /v1/chatkit/runs/{id}`` with the admin key), once it has ended."""

    def ended() -> dict[str, Any] | None:
        run: dict[str, Any] = admin_get(base_url, f"/runs/{run_id}")
        return None if run["status"] == "in_progress" else run

    return eventually(ended)


def saved_answers(base_url: str, thread_id: str) -> list[str]:
    return [
        item["content"][0]["text"]
        for item in thread_items(base_url, thread_id)
        if item["type"] == "chatkit.assistant_message"
    ]


def is_follow(request: Request) -> bool:
    return request.method == "GET" and bool(
        re.search(r"/v1/chatkit/runs/run_\w+/events", request.url)
    )


def answer_completes_once(user: ConsoleUser, page: Page) -> None:
    """The answer on screen ends as the whole echo, in one bubble, never rebuilt on the way."""
    answer = user.assistant_messages.last
    expect(answer).not_to_have_class(STREAMING, timeout=ANSWER_TIMEOUT)
    expect(user.assistant_messages).to_have_count(1)
    expect(answer.locator(".kc-markdown")).to_have_text(FULL_ANSWER)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert page.evaluate("window.__answer") == {"maxBubbles": 1, "shrank": False}


# ---------------------------------------------------------------------------- the chat element


def test_a_reload_mid_answer_follows_the_same_answer(
    user: ConsoleUser, console_server: KithostProcess
) -> None:
    page = user.page
    name = unique("reload")
    user.sign_in(name, "wf_kithost_echo", SLOW)
    user.send(MESSAGE)
    expect(user.assistant_messages.last).to_contain_text("alpha beta gamma delta alpha")
    thread = only_thread(console_server.url, name)
    [run] = thread_runs(console_server.url, thread["id"])

    page.add_init_script(WATCH_ANSWER)
    with page.expect_request(is_follow) as follow:
        page.reload()
    # From the run's first event, on top of the thread's items: the same answer, still growing.
    assert run["id"] in follow.value.url
    assert follow.value.headers["last-event-id"] == "0"
    expect(user.assistant_messages.last).to_have_class(STREAMING)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    answer_completes_once(user, page)
    expect(user.user_messages).to_have_count(1)

    assert finished_run(console_server.url, run["id"])["status"] == "completed"
    assert saved_answers(console_server.url, thread["id"]) == [FULL_ANSWER]


def test_stop_cancels_the_run_and_keeps_what_was_shown(
    user: ConsoleUser, console_server: KithostProcess
) -> None:
    page = user.page
    name = unique("stop")
    user.sign_in(name, "wf_kithost_echo", SLOW)
    user.send(MESSAGE)
    answer = user.assistant_messages.last
    expect(answer).to_contain_text("alpha beta gamma delta alpha")
    with page.expect_request(
        lambda request: request.method == "POST" and request.url.endswith("/cancel")
    ) as cancel:
        page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_class(re.compile(r"\bkc-stopped\b"))
    expect(answer).not_to_have_class(STREAMING)
    expect(page.get_by_role("button", name="Send")).to_be_visible()

    thread = only_thread(console_server.url, name)
    [run] = thread_runs(console_server.url, thread["id"])
    assert run["id"] in cancel.value.url
    assert finished_run(console_server.url, run["id"])["status"] == "cancelled"
    [saved] = saved_answers(console_server.url, thread["id"])
    assert saved.startswith("alpha beta gamma delta alpha")
    assert len(saved) < len(FULL_ANSWER)
    # The element read the run to its end: what it shows is what was kept.
    expect(answer.locator(".kc-markdown")).to_have_text(saved)


def test_a_second_tab_follows_the_answer_and_its_stop_state(
    user: ConsoleUser, new_page: Callable[[], Page], console_server: KithostProcess
) -> None:
    first = user
    name = unique("tabs")
    first.sign_in(name, "wf_kithost_echo", SLOW)
    first.send(MESSAGE)
    expect(first.assistant_messages.last).to_contain_text("alpha beta gamma delta alpha")

    second_page = new_page()
    second_page.add_init_script(WATCH_ANSWER)
    second = ConsoleUser(second_page, console_server.url)
    second.sign_in(name, "wf_kithost_echo", SLOW)
    with second_page.expect_request(is_follow):
        second_page.locator("li.kc-thread .kc-thread-open").click()
    expect(second.assistant_messages.last).to_have_class(STREAMING)
    expect(second_page.get_by_role("button", name="Stop")).to_be_visible()
    answer_completes_once(second, second_page)

    expect(first.assistant_messages.last).not_to_have_class(STREAMING)
    expect(first.assistant_messages.last.locator(".kc-markdown")).to_have_text(FULL_ANSWER)
    thread = only_thread(console_server.url, name)
    assert saved_answers(console_server.url, thread["id"]) == [FULL_ANSWER]


def test_a_dropped_connection_resumes_after_the_last_event(
    page: Page, console_server: KithostProcess
) -> None:
    """The network cuts the answer's stream mid-answer (no Stop): the element follows the run
    again from the last event it saw, and the answer ends whole, in the same bubble."""
    with cutting_proxy(console_server.port) as proxy:
        user = ConsoleUser(page, proxy.url)
        name = unique("drop")
        page.add_init_script(WATCH_ANSWER)
        user.sign_in(name, "wf_kithost_echo", SLOW)
        proxy.cut_next_stream()
        with page.expect_request(is_follow) as follow:
            user.send(MESSAGE)
        assert proxy.cut.is_set()
        assert int(follow.value.headers["last-event-id"]) > 0
        answer_completes_once(user, page)
    thread = only_thread(console_server.url, name)
    [run] = thread_runs(console_server.url, thread["id"])
    assert run["status"] == "completed"
    assert saved_answers(console_server.url, thread["id"]) == [FULL_ANSWER]


@contextmanager
def database_of_its_own(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database, made and dropped on a thread of its own: Playwright's sync API marks
    this thread's event loop as running, and PostgreSQL's setup runs ``asyncio.run``."""
    database = fresh_database(backend, workdir)
    with ThreadPoolExecutor(max_workers=1) as pool:
        url = pool.submit(database.__enter__).result()
        try:
            yield url
        finally:
            pool.submit(database.__exit__, None, None, None).result()


def test_a_server_killed_mid_answer_leaves_the_answer_marked_interrupted(
    page: Page, backend: str, tmp_path: Path
) -> None:
    """SIGKILL while the element streams, then a restart on the same port: the element follows
    the run again, and the bubble ends as what the restarted server saved, with its note."""
    with database_of_its_own(backend, tmp_path) as database_url:
        server = KithostProcess(database_url, tmp_path, {"KITHOST_DEMO_SIGNIN": "true"}).start()
        try:
            user = ConsoleUser(page, server.url)
            name = unique("crash")
            user.sign_in(name, "wf_kithost_echo", SLOW)
            user.send(MESSAGE)
            answer = user.assistant_messages.last
            # Far enough into the answer that its first part reached the run's journal.
            expect(answer).to_contain_text(re.compile(r"(?:alpha beta gamma delta\s+){8}"))
            server.kill()
            server.start()
            expect(answer).to_contain_text(INTERRUPTED_NOTICE, timeout=ANSWER_TIMEOUT)
            expect(answer).not_to_have_class(STREAMING)
            expect(user.assistant_messages).to_have_count(1)
            expect(page.get_by_role("button", name="Send")).to_be_visible()

            thread = only_thread(server.url, name)
            [run] = thread_runs(server.url, thread["id"])
            assert run["status"] == "interrupted"
            [saved] = saved_answers(server.url, thread["id"])
            assert saved.startswith("alpha beta gamma delta alpha")
            assert saved.endswith(INTERRUPTED_NOTICE)
            shown = answer.locator(".kc-markdown").text_content() or ""
            assert re.sub(r"\s+", "", shown) == re.sub(r"\s+", "", saved)
        finally:
            server.stop()


# ---------------------------------------------------------------------------- a dropping network


class CuttingProxy:
    """A TCP proxy in front of kithost that, once asked, cuts the next answer stream (an SSE
    response with a run id) a few events in, as a network drop does."""

    CUT_AFTER_BYTES = 3000

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_next_stream(self) -> None:
        self.armed.set()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, answers: bool) -> None:
        streamed = -1  # bytes of an answer stream passed on; -1: not in one
        try:
            while data := source.recv(65536):
                if answers and self.armed.is_set():
                    head = data.lower()
                    if b"text/event-stream" in head and b"x-kithost-run-id" in head:
                        streamed = 0
                    if streamed >= 0:
                        streamed += len(data)
                        if streamed > self.CUT_AFTER_BYTES:
                            self.armed.clear()
                            self.cut.set()
                            break
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                end.close()


@contextmanager
def cutting_proxy(upstream_port: int) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(upstream_port)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------- kithost-fetch.js

# A chatkit-js page on its own origin under a strict Content-Security-Policy: its script comes
# from a file, kithost-fetch.js from kithost.
FETCH_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>App with chatkit-js</title>
<script type="module" src="/page.js"></script></head>
<body><h1>App with chatkit-js</h1></body></html>
"""
# What chatkit-js does with the `fetch` it is given: a POST with an AbortController (its Stop
# button aborts it), then the SSE body read to its end. A widget that tears itself down when the
# page goes away aborts too: that abort must not stop the answer.
FETCH_SCRIPT = """
import {{ createKithostFetch }} from "{kithost}/static/kithost-fetch.js";

const kithostFetch = createKithostFetch({{ session: "/api/chatkit/session" }});
const conversation = "{kithost}/v1/chatkit/conversation";
window.answer = {{ runId: null, received: "", done: false, error: null }};

window.ask = async (text) => {{
  const controller = new AbortController();
  window.stop = () => controller.abort();
  addEventListener("pagehide", () => controller.abort());
  const input = {{ content: [{{ type: "input_text", text }}], attachments: [], quoted_text: "",
    inference_options: {{}} }};
  try {{
    const response = await kithostFetch(conversation, {{
      method: "POST",
      headers: {{ "Content-Type": "application/json" }},
      body: JSON.stringify({{ type: "threads.create", params: {{ input }} }}),
      signal: controller.signal,
    }});
    window.answer.runId = response.headers.get("X-Kithost-Run-Id");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {{
      const {{ value, done }} = await reader.read();
      if (done) break;
      window.answer.received += value;
    }}
    window.answer.done = true;
  }} catch (error) {{
    window.answer.error = error.name;
  }}
}};
window.ready = true;
"""


@contextmanager
def chatkit_js_app(kithost: KithostProcess, user: str) -> Iterator[str]:
    """The app: the page, its script, and a backend that mints echo sessions for ``user``."""
    policy = (
        f"default-src 'none'; script-src 'self' {kithost.url}; connect-src 'self' {kithost.url}"
    )
    script = FETCH_SCRIPT.format(kithost=kithost.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/page.js":
                self._answer("text/javascript", script)
            else:
                self._answer("text/html; charset=utf-8", FETCH_PAGE)

        def do_POST(self) -> None:
            session = httpx.post(
                f"{kithost.url}/v1/chatkit/sessions",
                headers=ADMIN_HEADERS,
                json={
                    "user": user,
                    "workflow": {"id": "wf_kithost_echo", "state_variables": SLOW},
                    "rate_limits": {"max_requests_per_1_minute": 1000},
                },
                timeout=10,
            ).json()
            body = {"client_secret": session["client_secret"], "expires_at": session["expires_at"]}
            self._answer("application/json", json.dumps(body).encode())

        def _answer(self, content_type: str, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", policy)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{app.server_address[1]}"
    finally:
        app.shutdown()
        app.server_close()
        thread.join()


def wait_in_page(page: Page, expression: str) -> None:
    """Poll a page expression until it is true (``wait_for_function`` would need 'unsafe-eval',
    which the page's policy refuses)."""
    eventually(lambda: True if page.evaluate(expression) else None)


def open_app(page: Page, app_url: str) -> None:
    page.goto(app_url)
    wait_in_page(page, "window.ready === true")


def ask_and_wait_for_words(page: Page) -> str:
    """Send the message; returns the run id once a few words have arrived."""
    page.evaluate("(text) => { window.ask(text); }", MESSAGE)
    wait_in_page(page, "(window.answer.received.match(/text_delta/g) || []).length >= 8")
    run_id: str = page.evaluate("window.answer.runId")
    assert run_id.startswith("run_")
    return run_id


def test_kithost_fetch_abort_stops_the_answer(page: Page, console_server: KithostProcess) -> None:
    name = unique("fetch-stop")
    with chatkit_js_app(console_server, name) as app_url:
        open_app(page, app_url)
        run_id = ask_and_wait_for_words(page)
        page.evaluate("window.stop()")
        wait_in_page(page, "window.answer.error !== null")
        assert page.evaluate("window.answer.error") == "AbortError"
        assert finished_run(console_server.url, run_id)["status"] == "cancelled"
    thread = only_thread(console_server.url, name)
    [saved] = saved_answers(console_server.url, thread["id"])
    assert saved.startswith("alpha beta gamma delta alpha")
    assert len(saved) < len(FULL_ANSWER)


def test_kithost_fetch_abort_before_the_answer_began_still_stops_it(
    page: Page, console_server: KithostProcess
) -> None:
    """Stop pressed while the request is on its way: the run is cancelled once it is named."""
    name = unique("fetch-early")
    with chatkit_js_app(console_server, name) as app_url:
        open_app(page, app_url)
        with page.expect_response(lambda response: response.url.endswith("/conversation")) as sent:
            page.evaluate("(text) => { window.ask(text); window.stop(); }", MESSAGE)
        wait_in_page(page, "window.answer.error !== null")
        assert page.evaluate("window.answer.error") == "AbortError"
        # The page never saw the answer; kithost-fetch.js read its run id and cancelled it.
        run_id = sent.value.headers["x-kithost-run-id"]
        assert finished_run(console_server.url, run_id)["status"] == "cancelled"


def test_kithost_fetch_reload_only_detaches(page: Page, console_server: KithostProcess) -> None:
    name = unique("fetch-reload")
    with chatkit_js_app(console_server, name) as app_url:
        open_app(page, app_url)
        run_id = ask_and_wait_for_words(page)
        page.reload()  # the page's own abort on pagehide must not be a Stop
        wait_in_page(page, "window.ready === true")
        # The answer goes on without its reader, to its end.
        assert finished_run(console_server.url, run_id)["status"] == "completed"
    thread = only_thread(console_server.url, name)
    assert saved_answers(console_server.url, thread["id"]) == [FULL_ANSWER]
