"""The console as a newcomer with an Agent Builder export meets it (issue 12), in a real browser.

A kithost with the demo sign-in serves the shared ``support_triage.py`` export and two YAML
workflows on the fake model provider, on both model APIs and both databases. The chat names
workflows by name and offers only the starter prompts a workflow declares; the admin console
shows a real triage run as one tree with durations, token figures and the classifier's
decision; a rate-limited request says "Try again" once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import ConsoleUser, PageProblems, chromium
from tests.support.chatkit_stream import Conversation, client_secret
from tests.support.fake_model import FakeModelServer, ModelRequest, structured, text
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.waiting import unique
from tests.support.workflow_files import (
    SUPPORT_TRIAGE,
    ModelApi,
    admin_client,
    control_get,
    copy_fixture_exports,
    is_title_request,
    kithost_env,
    serving,
    write,
)

expect.set_options(timeout=20_000)

WITH_PROMPTS = "wf_support_bot"
WITHOUT_PROMPTS = "wf_quiet_bot"
BILLING_ANSWER = "I see two charges; I can open a refund request for the second one."


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"newcomer-{api}")
    folder = workdir / "workflows"
    copy_fixture_exports(folder)
    write(
        folder,
        "support_bot.yaml",
        f"""\
        id: {WITH_PROMPTS}
        name: Support bot
        starter_prompts:
          - What does my plan include?
          - {{label: Billing, prompt: "Why is my bill higher this month?"}}
        """,
    )
    write(folder, "quiet_bot.yaml", f"id: {WITHOUT_PROMPTS}\nname: Quiet bot\n")
    env = kithost_env(fake.base_url, api, folder, KITHOST_DEMO_SIGNIN="true")
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(scope="module")
def browser(kithost: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; no script error or CSP refusal allowed."""
    problems = PageProblems()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    problems.watch(opened)
    yield opened
    context.close()
    assert problems.problems == []


@pytest.fixture(autouse=True)
def _script(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("Thread title"))


def is_classifier(request: ModelRequest) -> bool:
    return "Classify" in request.instructions


# ---------------------------------------------------------------------------- the chat


def test_workflows_list_their_own_starter_prompts(kithost: KithostProcess) -> None:
    listed = {wf["id"]: wf for wf in control_get(kithost, "/v1/chatkit/workflows")["data"]}
    assert listed[WITH_PROMPTS]["starter_prompts"] == [
        {"label": "What does my plan include?", "prompt": "What does my plan include?"},
        {"label": "Billing", "prompt": "Why is my bill higher this month?"},
    ]
    assert listed["wf_kithost_demo"]["starter_prompts"][0]["label"] == "What is kithost?"
    for workflow_id in (WITHOUT_PROMPTS, SUPPORT_TRIAGE, "wf_kithost_echo"):
        assert listed[workflow_id]["starter_prompts"] == []

    demo = httpx.get(f"{kithost.url}/demo/workflows").json()["data"]
    assert {wf["id"]: wf["starter_prompts"] for wf in demo} == {
        wf_id: wf["starter_prompts"] for wf_id, wf in listed.items()
    }


def test_the_chat_names_the_workflow_and_offers_only_its_prompts(
    page: Page, kithost: KithostProcess
) -> None:
    user = ConsoleUser(page, kithost.url)
    chat = page.locator("kithost-chat")
    info = page.locator("#session-info")

    user.sign_in(unique("demo"))
    expect(info).to_contain_text("kithost demo (offline)")
    expect(info).not_to_contain_text("wf_kithost_demo")
    expect(chat.locator(".kc-prompt")).to_have_text(["What is kithost?", "Show me some markdown"])

    page.get_by_role("button", name="Sign out").click()
    user.sign_in(unique("triage"), workflow=SUPPORT_TRIAGE)
    expect(info).to_contain_text("support_triage")
    expect(info).not_to_contain_text(SUPPORT_TRIAGE)
    expect(user.composer).to_have_attribute("placeholder", "Message support_triage…")
    expect(chat.locator(".kc-greeting")).to_be_visible()
    expect(chat.locator(".kc-prompt")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    user.sign_in(unique("bot"), workflow=WITH_PROMPTS)
    expect(info).to_contain_text("Support bot")
    prompts = chat.locator(".kc-prompt")
    expect(prompts).to_have_text(["What does my plan include?", "Billing"])


def test_a_rate_limited_request_says_when_once(
    page: Page, kithost: KithostProcess, admin: openai.OpenAI
) -> None:
    """A session allowed two requests a minute: the element's first request lists threads,
    the first message is the second, and the next message is refused with kithost's 429."""
    session = admin.beta.chatkit.sessions.create(
        user=unique("limited"),
        workflow={"id": "wf_kithost_demo"},
        rate_limits={"max_requests_per_1_minute": 2},
    )
    page.goto(f"{kithost.url}/embed-example")
    page.evaluate(
        """async (secret) => {
          await import("/static/kithost-chat.js");
          const chat = document.createElement("kithost-chat");
          chat.id = "limited";
          chat.style.height = "500px";
          document.body.append(chat);
          chat.setOptions({
            api: { url: "/v1/chatkit/conversation", getClientSecret: async () => secret },
          });
        }""",
        session.client_secret,
    )
    chat = page.locator("#limited")
    composer = chat.get_by_role("textbox", name="Message")
    composer.fill("first")
    chat.get_by_role("button", name="Send").click()
    expect(chat.locator("article.kc-assistant").last).to_contain_text("You wrote")
    composer.fill("second")
    chat.get_by_role("button", name="Send").click()
    refusal = chat.get_by_text("Rate limit reached for this session")
    expect(refusal).to_be_visible()
    said = refusal.inner_text()
    assert re.search(r"Try again in \d+ s\.", said), said
    assert said.count("Try again") == 1, said


# ---------------------------------------------------------------------------- the admin console


def triage_run(kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer) -> str:
    """One real turn of the export: the classifier says billing, the billing desk answers."""
    fake.when(is_classifier, structured({"category": "billing"}))
    fake.when(lambda r: "billing desk" in r.instructions, text(BILLING_ANSWER))
    secret = client_secret(admin, SUPPORT_TRIAGE, user=unique("traced"))
    with Conversation(kithost.url, secret) as chat:
        stream = chat.start("Why was I charged twice?")
    assert stream.errors == []
    assert stream.answer == BILLING_ANSWER
    return stream.thread_id


def open_thread_in_admin(page: Page, kithost: KithostProcess, thread_id: str) -> None:
    page.goto(f"{kithost.url}/admin#threads/{thread_id}")
    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Open the console").click()


def test_a_triage_run_shows_as_one_tree(
    page: Page, kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    thread_id = triage_run(kithost, admin, fake)
    [trace] = control_get(kithost, f"/v1/chatkit/threads/{thread_id}/traces")["data"]
    spans: list[dict[str, Any]] = trace["spans"]
    [root] = [span for span in spans if span["type"] == "trace"]
    assert root["name"] == "Support triage"
    assert root["duration_ms"] is not None  # the trace itself is timed now
    calls = [span for span in spans if span["type"] in ("generation", "response")]
    assert len(calls) == 2
    assert all(call["data"].get("output") for call in calls), calls

    open_thread_in_admin(page, kithost, thread_id)
    tree = page.locator(f'#traces details.trace[data-trace-id="{trace["id"]}"]')
    summary = tree.locator(":scope > summary")
    expect(summary).to_contain_text("Support triage")
    expect(summary).to_contain_text(re.compile(r"· \d+(\.\d\d)? m?s ·"))
    expect(summary).to_contain_text("2 model calls")
    expect(summary).to_contain_text(re.compile(r"\d+ in · \d+ out tokens"))

    # One tree: the trace is its root, never an orphaned "? ms" entry beside it.
    expect(tree.locator("li.span")).to_have_count(len(spans) - 1)
    expect(tree).not_to_contain_text("? ms")
    agents = tree.locator('li.span[data-type="agent"]')
    expect(agents).to_have_count(2)
    triage = agents.filter(has=page.get_by_text("Triage", exact=True))
    decision = triage.locator(".span-output").first
    expect(decision).to_contain_text("TriageSchema")
    assert json.loads(decision.locator("pre").inner_text()) == {"category": "billing"}
    model_calls = tree.locator("li.span[data-type='generation'], li.span[data-type='response']")
    for call in model_calls.all():
        tokens = call.locator(":scope > .span-tokens")
        expect(tokens).to_have_text(re.compile(r"^ · \d+ in · \d+ out tokens$"))
    billing = agents.filter(has=page.get_by_text("Billing agent", exact=True))
    expect(billing.locator(".span-output")).to_have_count(0)
    billing.locator(".span-answer summary").click()
    expect(billing.locator(".span-answer pre")).to_have_text(BILLING_ANSWER)
