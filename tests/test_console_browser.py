"""The console in a real browser: kithost's chat at ``/``, ``<kithost-chat>``, and ``/admin``.

Headless Chromium (Debian's) drives a real ``kithost serve`` with the demo sign-in on. Nothing
in kithost is mocked: widgets, progress and notices come from the built-in demo workflow, error
events from a model workflow with no provider, and trace spans are seeded through the store.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from kithost.core.traces import SpanRecord
from kithost.store.database import create_engine
from kithost.store.traces import TraceRepository
from tests.support.browser import (
    ConsoleUser,
    chromium,
    host_app,
    png_bytes,
    screenshot_path,
    thread_items,
    user_threads,
)
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.waiting import eventually, unique

T = TypeVar("T")
NEEDS_MODEL = "wf_console_needs_model"

expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def console_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """A kithost with the demo sign-in on, as ``make serve`` runs it.

    Its folder holds one model workflow and no provider is configured, so that workflow answers
    with a real ChatKit ``error`` event.
    """
    workdir = tmp_path_factory.mktemp("console")
    workflows = workdir / "workflows"
    workflows.mkdir()
    (workflows / "needs_model.yaml").write_text(f"id: {NEEDS_MODEL}\nname: Needs a model\n")
    env = {"KITHOST_DEMO_SIGNIN": "true", "KITHOST_WORKFLOWS_DIR": str(workflows)}
    process = KithostProcess(database_url, workdir, env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(console_server: KithostProcess) -> Iterator[Browser]:
    """One Chromium per server. Playwright's sync API marks an event loop as running while it
    lives, so it must close before the next backend's database is made (with ``asyncio.run``)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def user(page: Page, console_server: KithostProcess) -> ConsoleUser:
    return ConsoleUser(page, console_server.url)


def seed_spans(database_url: str, spans: list[SpanRecord]) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await TraceRepository(engine).add(spans)
        finally:
            await engine.dispose()

    # In a thread of its own: Playwright's sync API keeps an event loop marked as running here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


# ---------------------------------------------------------------------------- serving


def test_pages_are_served_with_a_strict_policy(console_server: KithostProcess) -> None:
    for path in ("/", "/admin", "/embed-example"):
        response = httpx.get(f"{console_server.url}{path}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "'unsafe-inline'" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        # No inline script anywhere: every <script> names a file.
        scripts = re.findall(r"<script\b[^>]*>", response.text)
        assert scripts
        assert all("src=" in tag for tag in scripts)
        assert "cdn." not in response.text
    script = httpx.get(f"{console_server.url}/static/kithost-chat.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    # Other sites load the element as a module, which is fetched with CORS.
    assert script.headers["access-control-allow-origin"] == "*"
    missing = httpx.get(f"{console_server.url}/static/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_url"


def test_demo_signin_mints_a_session_with_ui_limits(console_server: KithostProcess) -> None:
    name = unique("mint")
    response = httpx.post(
        f"{console_server.url}/demo/session",
        json={"user": name, "workflow": "wf_kithost_echo", "state_variables": {"delay_ms": 5}},
    )
    assert response.status_code == 200
    session = response.json()
    assert session["object"] == "chatkit.session"
    assert session["user"] == name
    assert session["client_secret"].startswith("ek_")
    assert session["max_requests_per_1_minute"] == 120
    assert session["chatkit_configuration"]["file_upload"]["enabled"] is True
    assert session["workflow"]["state_variables"] == {"delay_ms": 5}
    # The same service as the control plane: the session is there, and errors are the API's.
    listed = httpx.get(
        f"{console_server.url}/v1/chatkit/sessions",
        params={"user": name},
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Beta": "chatkit_beta=v1"},
    ).json()
    assert [s["id"] for s in listed["data"]] == [session["id"]]
    unknown = httpx.post(
        f"{console_server.url}/demo/session", json={"user": name, "workflow": "wf_nope"}
    )
    assert unknown.status_code == 404
    assert "wf_nope" in unknown.json()["error"]["message"]
    # A form post from another site cannot sign anyone in.
    form = httpx.post(f"{console_server.url}/demo/session", data={"user": name})
    assert form.status_code == 400
    assert form.json()["error"]["code"] == "invalid_content_type"


def test_demo_signin_is_off_unless_enabled(server: KithostProcess, page: Page) -> None:
    response = httpx.post(f"{server.url}/demo/session", json={"user": "someone"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "demo_signin_disabled"
    page.goto(f"{server.url}/")
    expect(page.get_by_role("heading", name="kithost is running")).to_be_visible()
    expect(page.get_by_text("KITHOST_DEMO_SIGNIN=true").first).to_be_visible()
    expect(page.get_by_text('<script type="module" src="/static/kithost-chat.js">')).to_be_visible()


# ---------------------------------------------------------------------------- chatting


def test_answer_streams_in_as_safe_markdown(user: ConsoleUser, page: Page) -> None:
    user.sign_in(unique("stream"), "wf_kithost_echo", {"delay_ms": 100, "repeat": 5})
    message = (
        "Hello **bold** <img src=x onerror=window.__pwned=1> [click](javascript:window.__pwned=2)"
    )
    user.send(message)
    answer = user.assistant_messages.last
    # While words arrive: the message is open, partly there, and the Stop button is offered.
    expect(answer).to_have_class(re.compile(r"\bkc-streaming\b"))
    expect(answer).to_contain_text("Hello")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    # Then it is done.
    expect(answer).not_to_have_class(re.compile(r"\bkc-streaming\b"))
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(answer.locator("strong")).to_have_count(5)
    expect(answer.locator("strong").first).to_have_text("bold")
    expect(answer).to_contain_text("<img src=x onerror=window.__pwned=1>")
    expect(answer.locator("img")).to_have_count(0)
    expect(answer.locator("a")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    expect(user.user_messages.last).to_have_text(message)


def test_stop_keeps_the_partial_answer(
    user: ConsoleUser, page: Page, console_server: KithostProcess
) -> None:
    name = unique("stop")
    user.sign_in(name, "wf_kithost_echo", {"delay_ms": 150, "repeat": 500})
    user.send("alpha beta gamma")
    answer = user.assistant_messages.last
    expect(answer).to_contain_text("alpha beta gamma alpha beta")
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_class(re.compile(r"\bkc-stopped\b"))
    expect(answer.get_by_text("Stopped")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()

    def saved_answer() -> str | None:
        threads = user_threads(console_server.url, name)
        if not threads:
            return None
        items = thread_items(console_server.url, threads[0]["id"])
        texts = [i["content"][0]["text"] for i in items if i["type"] == "chatkit.assistant_message"]
        return texts[0] if texts else None

    saved = eventually(saved_answer)
    assert saved.startswith("alpha beta gamma alpha beta")
    assert len(saved.split()) < 1500  # partial: the whole answer would be 1500 words

    page.reload()
    reloaded = user.assistant_messages.last
    expect(reloaded.locator(".kc-markdown")).to_have_text(saved)
    expect(user.user_messages.last).to_have_text("alpha beta gamma")


def test_tasks_retry_and_feedback(user: ConsoleUser, page: Page) -> None:
    user.sign_in(unique("tasks"))
    user.send("Tell me about tasks")
    workflow = page.locator("article.kc-workflow")
    expect(workflow.locator("summary")).to_have_text("2 steps")
    workflow.locator("summary").click()
    expect(workflow.get_by_text("Read your message")).to_be_visible()
    expect(workflow.get_by_text("Write a reply without a model")).to_be_visible()

    answer = user.assistant_messages.last
    expect(answer).to_contain_text("You wrote “Tell me about tasks”")
    expect(answer.locator("code").first).to_have_text("workflows/")
    good = answer.get_by_role("button", name="Good answer")
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_text("Thanks for the feedback")).to_be_visible()

    first_id = answer.get_attribute("data-item-id")
    answer.get_by_role("button", name="Retry").click()
    expect(user.assistant_messages).to_have_count(1)
    expect(user.assistant_messages.last).not_to_have_attribute("data-item-id", first_id or "")
    expect(user.assistant_messages.last).to_contain_text("You wrote “Tell me about tasks”")
    expect(user.user_messages).to_have_count(1)


def test_rename_and_delete_a_thread(
    user: ConsoleUser, page: Page, console_server: KithostProcess
) -> None:
    name = unique("history")
    user.sign_in(name)
    user.send("Plan a trip to Lisbon")
    expect(user.assistant_messages.last).to_contain_text("You wrote")
    row = user.thread_row("Plan a trip to Lisbon")
    expect(row).to_be_visible()
    expect(row).to_have_class(re.compile(r"\bkc-active\b"))

    row.get_by_role("button", name=re.compile("^Rename")).click()
    title = page.get_by_role("textbox", name="Conversation title")
    title.fill("Lisbon weekend")
    title.press("Enter")
    expect(user.thread_row("Lisbon weekend")).to_be_visible()
    expect(page.locator("kithost-chat .kc-title")).to_have_text("Lisbon weekend")
    assert [t["title"] for t in user_threads(console_server.url, name)] == ["Lisbon weekend"]

    page.reload()
    renamed = user.thread_row("Lisbon weekend")
    expect(renamed).to_be_visible()
    renamed.get_by_role("button", name=re.compile("^Delete")).click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(user.thread_row("Lisbon weekend")).to_have_count(0)
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(page.locator("kithost-chat .kc-title")).to_have_text("New chat")
    assert user_threads(console_server.url, name) == []


def test_history_follows_the_session(user: ConsoleUser, page: Page) -> None:
    name = unique("nohistory")
    user.sign_in(name)
    user.send("Remember me")
    expect(user.thread_row("Remember me")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    user.sign_in(name, history=False)
    expect(user.composer).to_be_enabled()
    expect(page.locator("kithost-chat aside.kc-sidebar")).to_be_hidden()
    # Even a page that shows the sidebar gets an empty list from such a session.
    with page.expect_response(
        lambda response: (
            response.url.endswith("/v1/chatkit/conversation")
            and json.loads(response.request.post_data or "{}").get("type") == "threads.list"
        )
    ) as listing:
        page.evaluate(
            """(user) => document.querySelector("kithost-chat").setOptions({
                api: { url: "/v1/chatkit/conversation", getClientSecret: async () => {
                  const r = await fetch("/demo/session", { method: "POST",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify({ user, history: false }) });
                  return (await r.json()).client_secret;
                } },
                history: { enabled: true },
            })""",
            name,
        )
    assert listing.value.json()["data"] == []
    expect(page.locator("kithost-chat aside.kc-sidebar")).to_be_visible()
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(page.locator("li.kc-thread")).to_have_count(0)


def test_uploads_within_and_past_the_limits(user: ConsoleUser, page: Page) -> None:
    user.sign_in(unique("files"), "wf_kithost_echo", max_file_size=1, max_files=2)
    file_input = page.locator("kithost-chat input[type=file]")
    chips = page.locator("kithost-chat li.kc-chip")
    error = page.locator("kithost-chat .kc-upload-error")

    file_input.set_input_files(
        [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Meeting notes"}]
    )
    expect(chips.filter(has_text="notes.txt")).to_have_attribute("data-status", "ready")

    file_input.set_input_files(
        [{"name": "big.txt", "mimeType": "text/plain", "buffer": b"x" * (1024 * 1024 + 1)}]
    )
    expect(error).to_have_text(
        "“big.txt” was not attached: The file is larger than this session's limit of 1 MB."
    )
    file_input.set_input_files(
        [{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x00"}]
    )
    expect(error).to_contain_text("“tool.exe” was not attached: Files of type")
    expect(error).to_contain_text("are not accepted")

    file_input.set_input_files(
        [{"name": "dot.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    expect(chips.filter(has_text="dot.png")).to_have_attribute("data-status", "ready")
    expect(chips).to_have_count(2)

    user.send("Here are my files")
    sent = user.user_messages.last
    expect(sent).to_contain_text("Here are my files")
    expect(sent.locator(".kc-attachment")).to_have_count(2)
    expect(sent.get_by_text("notes.txt")).to_be_visible()
    preview = sent.get_by_role("img", name="dot.png")
    expect(preview).to_have_js_property("naturalWidth", 2)
    expect(user.assistant_messages.last).to_contain_text("Here are my files")
    expect(chips).to_have_count(0)

    # The session's third file is one too many.
    file_input.set_input_files(
        [{"name": "third.txt", "mimeType": "text/plain", "buffer": b"three"}]
    )
    expect(error).to_have_text(
        "“third.txt” was not attached: This session may upload at most 2 files."
    )
    expect(chips).to_have_count(0)


def test_a_session_cancelled_in_admin_shows_in_the_chat(
    user: ConsoleUser, page: Page, new_page: Callable[[], Page], console_server: KithostProcess
) -> None:
    name = unique("cancel")
    user.sign_in(name)
    user.send("Before the cancel")
    expect(user.assistant_messages.last).to_contain_text("You wrote")

    admin = new_page()
    admin.goto(f"{console_server.url}/admin#sessions")
    admin.get_by_label("Admin API key").fill(ADMIN_KEY)
    admin.get_by_role("button", name="Open the console").click()
    filters = admin.locator("#sessions-filter")
    filters.get_by_label("User").fill(name)
    filters.get_by_role("button", name="Filter").click()
    rows = admin.locator("#sessions-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("active")
    rows.first.get_by_role("button", name=re.compile("^Cancel session")).click()
    expect(rows.first.locator(".badge")).to_have_text("cancelled")
    expect(rows.first.get_by_role("button")).to_have_count(0)

    user.send("After the cancel")
    banner = page.locator("kithost-chat .kc-banner")
    expect(banner).to_contain_text("This chat session was cancelled.")
    expect(user.composer).to_be_disabled()
    expect(user.composer).to_have_value("After the cancel")
    expect(user.user_messages).to_have_count(1)

    # A new session (a new sign-in) picks the conversation up again.
    banner.get_by_role("button", name="Start a new session").click()
    expect(banner).to_be_hidden()
    expect(user.composer).to_be_enabled()
    page.get_by_role("button", name="Send").click()
    expect(user.assistant_messages).to_have_count(2)
    expect(user.assistant_messages.last).to_contain_text("You wrote “After the cancel”")


def test_a_fresh_secret_is_fetched_before_the_old_one_expires(
    page: Page, console_server: KithostProcess
) -> None:
    name = unique("refresh")
    conversation_statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            conversation_statuses.append(response.status)
            if response.url.endswith("/v1/chatkit/conversation")
            else None
        ),
    )
    page.goto(f"{console_server.url}/embed-example")
    expect(page.get_by_text("The chat is ready.")).to_be_visible()
    # The page asks for four-second secrets; their expiry is read from the secret itself.
    page.evaluate(
        """(user) => {
            window.mints = 0;
            document.getElementById("support-chat").setOptions({
              api: { url: "/v1/chatkit/conversation", getClientSecret: async (current) => {
                window.mints += 1;
                window.lastCurrent = current;
                const r = await fetch("/demo/session", { method: "POST",
                  headers: { "Content-Type": "application/json" },
                  body: JSON.stringify({ user, workflow: "wf_kithost_echo", expires_in: 4 }) });
                return (await r.json()).client_secret;
              } },
              history: { enabled: true },
            });
        }""",
        name,
    )
    user = ConsoleUser(page, console_server.url)
    user.send("first")
    expect(user.assistant_messages.last).to_have_text(re.compile("^first"))
    mints = page.evaluate("window.mints")
    assert mints >= 1
    page.wait_for_timeout(4500)  # every secret minted so far has expired by now
    user.send("second")
    expect(user.assistant_messages.last).to_have_text(re.compile("^second"))
    assert page.evaluate("window.mints") == mints + 1
    assert page.evaluate("window.lastCurrent").startswith("ek_")
    assert conversation_statuses
    assert 401 not in conversation_statuses


def test_the_embed_example_page(page: Page, console_server: KithostProcess) -> None:
    page.goto(f"{console_server.url}/embed-example")
    expect(page.get_by_role("heading", name="Acme Support")).to_be_visible()
    expect(page.get_by_text("The chat is ready.")).to_be_visible()
    chat = page.locator("kithost-chat#support-chat")
    expect(chat.get_by_text("Hi! How can Acme help?")).to_be_visible()
    expect(chat.locator("aside.kc-sidebar")).to_be_hidden()
    chat.get_by_role("button", name="Track my order").click()
    expect(chat.locator("article.kc-user")).to_have_text("Where is my order?")
    expect(chat.locator("article.kc-assistant .kc-markdown")).to_have_text("Where is my order?")
    threads = user_threads(console_server.url, "embed-visitor")
    assert any(t["title"] == "Where is my order?" for t in threads)


def test_another_site_embeds_the_chat(page: Page, console_server: KithostProcess) -> None:
    """The docs/embed.md snippet on an app of its own origin, whose backend mints sessions."""
    name = unique("visitor")
    with host_app(console_server.url, name) as app_url:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Host app")).to_be_visible()
        user = ConsoleUser(page, app_url)
        user.send("Hello from another origin")
        expect(user.assistant_messages.last).to_contain_text(
            "You wrote “Hello from another origin”"
        )
        expect(user.thread_row("Hello from another origin")).to_be_visible()
    assert [t["title"] for t in user_threads(console_server.url, name)] == [
        "Hello from another origin"
    ]


# ---------------------------------------------------------------------------- rendering


MARKDOWN_SAMPLES = {
    "html": '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
    "js": "[x](javascript:window.__pwned=3) [d](data:text/html,hi) <javascript:alert(1)>",
    "ok": "[ok](https://example.com/a) and https://example.org/b.",
    "inline": "**b** *i* _u_ snake_case ~~s~~ `<i>c</i>`",
    "code": "```html\n<b>x</b>\n```",
    "lists": "- a\n- b\n\n1. one\n2. two",
    "quote": "> quoted\n\n# Heading\n\n---",
}


def test_markdown_renderer_never_runs_model_text(
    page: Page, console_server: KithostProcess
) -> None:
    page.goto(f"{console_server.url}/embed-example")
    result = page.evaluate(
        """async (samples) => {
            const { renderMarkdown } = await import("/static/markdown.js");
            const box = {};
            for (const [name, text] of Object.entries(samples)) {
              box[name] = document.createElement("div");
              box[name].append(renderMarkdown(text));
              document.body.append(box[name]);
            }
            const { html, js, ok, inline, code, lists, quote } = box;
            await new Promise((resolve) => setTimeout(resolve, 50));
            const links = [...ok.querySelectorAll("a")];
            return {
              htmlElements: html.querySelectorAll("img, script").length,
              htmlText: html.textContent,
              jsLinks: js.querySelectorAll("a").length,
              jsText: js.textContent,
              hrefs: links.map((a) => a.getAttribute("href")),
              rels: links.map((a) => a.rel),
              targets: links.map((a) => a.target),
              strong: inline.querySelector("strong")?.textContent,
              em: [...inline.querySelectorAll("em")].map((e) => e.textContent),
              del: inline.querySelector("del")?.textContent,
              inlineCode: inline.querySelector("code")?.textContent,
              inlineTags: inline.querySelectorAll("i").length,
              block: code.querySelector("pre > code")?.textContent,
              blockTags: code.querySelectorAll("b").length,
              ul: lists.querySelectorAll("ul > li").length,
              ol: lists.querySelectorAll("ol > li").length,
              quote: quote.querySelector("blockquote")?.textContent,
              heading: quote.querySelector("h3")?.textContent,
              rule: quote.querySelectorAll("hr").length,
              pwned: window.__pwned ?? null,
            };
        }""",
        MARKDOWN_SAMPLES,
    )
    assert result["htmlElements"] == 0
    assert result["htmlText"] == (
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    )
    assert result["jsLinks"] == 0
    assert "javascript:" in result["jsText"]
    assert result["hrefs"] == ["https://example.com/a", "https://example.org/b"]
    assert all("noopener" in rel and "noreferrer" in rel for rel in result["rels"])
    assert result["targets"] == ["_blank", "_blank"]
    assert result["strong"] == "b"
    assert result["em"] == ["i", "u"]
    assert result["del"] == "s"
    assert result["inlineCode"] == "<i>c</i>"
    assert result["inlineTags"] == 0
    assert result["block"] == "<b>x</b>"
    assert result["blockTags"] == 0
    assert (result["ul"], result["ol"]) == (2, 2)
    assert result["quote"] == "quoted"
    assert result["heading"] == "Heading"
    assert result["rule"] == 1
    assert result["pwned"] is None


def test_widgets_notices_and_errors_are_rendered(
    user: ConsoleUser,
    page: Page,
    new_page: Callable[[], Page],
    console_server: KithostProcess,
) -> None:
    """The demo workflow's progress line, task list and card; its button's action and notice;
    and a real ``error`` event from a workflow whose model provider is not configured."""
    user.sign_in(unique("widgets"))
    user.send("Where is my order?")

    card = page.locator("kithost-chat article.kc-widget .w-card")
    expect(card.get_by_role("heading", name="kithost demo")).to_be_visible()
    expect(card.locator(".w-badge")).to_have_text("offline")
    expect(card.get_by_text("Your message had 4 words.")).to_be_visible()
    expect(card.locator("hr.w-divider")).to_have_count(1)

    card.get_by_role("button", name="What else can kithost do?").click()
    notice = page.locator("kithost-chat .kc-notice-info")
    expect(notice).to_contain_text("This came back from the card's button.")
    expect(user.assistant_messages.last).to_contain_text("OpenAI's hosted ChatKit API")

    other = ConsoleUser(new_page(), console_server.url)
    other.sign_in(unique("errors"), workflow=NEEDS_MODEL)
    other.send("Hello?")
    error = other.page.locator("kithost-chat .kc-notice-danger")
    expect(error).to_contain_text("No model provider is configured")
    # A configuration error: sending the message again cannot help, so no Retry is offered.
    expect(error.get_by_role("button", name="Retry")).to_have_count(0)


def test_admin_console(
    page: Page, new_page: Callable[[], Page], console_server: KithostProcess, tmp_path: Path
) -> None:
    name = "ada"  # the only test that signs in as ada: a name fit for the pictures
    chat = ConsoleUser(new_page(), console_server.url)
    chat.sign_in(name)
    chat.send("What is kithost?")
    expect(chat.assistant_messages.last).to_contain_text("You wrote")
    expect(chat.thread_row("What is kithost?")).to_be_visible()
    chat.send("Show me **markdown**, `code` and a list:\n\n- one\n- two")
    expect(chat.assistant_messages).to_have_count(2)
    expect(chat.assistant_messages.last).not_to_have_class(re.compile(r"\bkc-streaming\b"))
    chat.page.locator("article.kc-workflow summary").last.click()
    expect(chat.page.get_by_text("Write a reply without a model").last).to_be_visible()
    chat.page.screenshot(path=screenshot_path(tmp_path, "screenshot-chat.png"))

    page.goto(f"{console_server.url}/admin#sessions")
    page.get_by_label("Admin API key").fill("sk-wrong")
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("#login-error")).to_contain_text("Incorrect API key")

    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Open the console").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    session_row = page.locator(f'#sessions-rows tr[data-user="{name}"]')
    expect(session_row).to_have_count(1)
    expect(session_row).to_contain_text("wf_kithost_demo")
    expect(session_row).to_contain_text("120/min")

    page.locator("#sessions-filter").get_by_label("Status").select_option("cancelled")
    page.locator("#sessions-filter").get_by_role("button", name="Filter").click()
    expect(page.locator(f'#sessions-rows tr[data-user="{name}"]')).to_have_count(0)

    page.get_by_role("link", name="Workflows").click()
    workflows = page.locator("#workflows-rows")
    expect(workflows.get_by_text("wf_kithost_demo")).to_be_visible()
    expect(workflows.get_by_text("wf_kithost_echo")).to_be_visible()

    page.get_by_role("link", name="Threads").click()
    filters = page.locator("#threads-filter")
    filters.get_by_label("User").fill(name)
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#threads-rows tr")).to_have_count(1)
    page.locator("#threads-rows").get_by_role("link", name="What is kithost?").click()
    expect(page.get_by_role("heading", name="What is kithost?")).to_be_visible()
    transcript = page.locator("#transcript")
    # Two exchanges with the demo: message, task group, answer and card each.
    expect(transcript.locator(".transcript-item")).to_have_count(8)
    expect(transcript.locator(".transcript-widget")).to_have_count(2)
    expect(transcript.locator(".transcript-user_message").first).to_contain_text("What is kithost?")
    expect(transcript.locator(".transcript-assistant_message .md strong").first).to_have_text(
        "markdown"
    )
    expect(transcript.locator(".transcript-task_group").first).to_contain_text("Read your message")
    expect(page.locator("#traces")).to_contain_text("No traces")

    # The key stays for this tab: a reload goes straight back to the thread.
    page.reload()
    expect(page.get_by_role("heading", name="What is kithost?")).to_be_visible()
    page.screenshot(path=screenshot_path(tmp_path, "screenshot-admin.png"))
    page.get_by_role("button", name="Forget the key").click()
    expect(page.get_by_label("Admin API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('kithost.adminKey')") is None


def test_admin_shows_the_spans_of_a_trace(page: Page, console_server: KithostProcess) -> None:
    """The admin page reads a thread's spans from the real traces endpoint."""
    name = unique("traces")
    session = httpx.post(
        f"{console_server.url}/demo/session", json={"user": name, "workflow": "wf_kithost_echo"}
    ).json()
    created = httpx.post(
        f"{console_server.url}/v1/chatkit/conversation",
        headers={"Authorization": f"Bearer {session['client_secret']}"},
        json={
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "traced run"}],
                    "quoted_text": "",
                    "attachments": [],
                    "inference_options": {},
                }
            },
        },
    )
    assert created.status_code == 200
    thread_id = user_threads(console_server.url, name)[0]["id"]
    # Built-in workflows make no spans; these go in through the store, as a model run's would.
    base = time.time()
    seed_spans(
        console_server.database_url,
        [
            SpanRecord(
                span_id="span_agent",
                trace_id="trace_1",
                parent_id=None,
                thread_id=thread_id,
                session_id=session["id"],
                workflow_id="wf_example",
                kind="agent",
                name="Helper",
                started_at=base,
                ended_at=base + 1,
                data={"type": "agent", "name": "Helper"},
            ),
            SpanRecord(
                span_id="span_gen",
                trace_id="trace_1",
                parent_id="span_agent",
                thread_id=thread_id,
                session_id=session["id"],
                workflow_id="wf_example",
                kind="generation",
                name="gpt-4.1-mini",
                started_at=base,
                ended_at=base + 0.95,
                data={"type": "generation", "usage": {"input_tokens": 12, "output_tokens": 7}},
                error={"message": "rate limited"},
            ),
        ],
    )
    page.goto(f"{console_server.url}/admin#threads/{thread_id}")
    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Open the console").click()
    traces = page.locator("#traces")
    expect(traces.locator("li.span")).to_have_count(2)
    expect(traces.locator("li.span").first).to_contain_text("Helper")
    nested = traces.locator("li.span li.span")
    expect(nested).to_contain_text("gpt-4.1-mini")
    expect(nested).to_contain_text("950 ms")
    expect(nested).to_contain_text("12 in · 7 out tokens")
    expect(nested).to_contain_text("rate limited")
    expect(page.locator("#transcript")).to_contain_text("traced run")
