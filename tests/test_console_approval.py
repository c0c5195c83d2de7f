"""Approving and denying an MCP tool call in kithost's chat page, in a real browser.

Headless Chromium at ``/`` talks to a real ``kithost serve`` whose export has a
``HostedMCPTool`` that asks before ``cancel_order``; a real MCP server runs the call and the
fake model answers from the tool's result. The card's Approve / Deny buttons go through the
ChatKit action protocol, and the answer that follows each shows in the chat.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import ConsoleUser, PageProblems, chromium
from tests.support.fake_model import FakeModelServer, ModelRequest, Reply, text, tool_call
from tests.support.mcp_exports import mcp_export, tool_config
from tests.support.mcp_server import McpServerProcess
from tests.support.process import KithostProcess
from tests.support.workflow_files import is_title_request, kithost_env, serving, write

TOKEN = "mcp-console-token-52d1"
ORDERS = "wf_console_orders"

expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServerProcess]:
    server = McpServerProcess(TOKEN, tmp_path_factory.mktemp("mcp")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def console_server(
    database_url: str,
    fake: FakeModelServer,
    mcp: McpServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("console-approval")
    folder = workdir / "workflows"
    config = tool_config(
        mcp.url,
        authorization=TOKEN,
        require_approval={"always": {"tool_names": ["cancel_order"]}},
    )
    write(folder, "orders.py", mcp_export(ORDERS, config))
    env = kithost_env(fake.base_url, "chat_completions", folder, KITHOST_DEMO_SIGNIN="true")
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def browser(console_server: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    problems = PageProblems()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems.watch(page)
    yield page
    context.close()
    assert problems.problems == []


def order_desk(request: ModelRequest) -> Reply:
    """Cancels the order the user names, then answers from the tool's result."""
    said = request.transcript
    if said and said[-1][0] == "tool":
        return text(f"The order desk says: {said[-1][1]}")
    order_id = re.findall(r"A-\d+", request.last_user_text)[-1]
    return tool_call("cancel_order", {"order_id": order_id})


def test_approve_and_deny_in_the_chat(
    page: Page,
    console_server: KithostProcess,
    fake: FakeModelServer,
    mcp: McpServerProcess,
) -> None:
    fake.reset()
    fake.when(is_title_request, text("Cancellations"))
    fake.when(lambda r: True, order_desk)
    mcp.forget()
    user = ConsoleUser(page, console_server.url)
    user.sign_in(f"approver-{uuid.uuid4().hex[:8]}", workflow=ORDERS)
    cards = page.locator("kithost-chat article.kc-widget .w-card")

    user.send("Please cancel order A-1002")
    first = cards.nth(0)
    expect(first.get_by_role("heading", name="Allow cancel_order?")).to_be_visible()
    expect(first.get_by_text('"order_id": "A-1002"')).to_be_visible()
    expect(first.locator(".w-badge")).to_have_text("Waiting")
    # The turn's stream ended with the card: the chat is free, nothing ran, nothing answered.
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(user.assistant_messages).to_have_count(0)
    assert mcp.calls() == []

    first.get_by_role("button", name="Approve").click()
    expect(user.assistant_messages.last.locator(".kc-markdown")).to_have_text(
        "The order desk says: Order A-1002 is cancelled."
    )
    expect(first.locator(".w-badge")).to_have_text("Approved")
    expect(first.get_by_role("button")).to_have_count(0)
    assert mcp.calls() == [("cancel_order", {"order_id": "A-1002", "reason": ""})]

    user.send("Actually, cancel A-1001 as well")
    second = cards.nth(1)
    expect(second.locator(".w-badge")).to_have_text("Waiting")
    second.get_by_role("button", name="Deny").click()
    expect(user.assistant_messages).to_have_count(2)
    expect(user.assistant_messages.last.locator(".kc-markdown")).to_contain_text(
        "The user denied this tool call"
    )
    expect(second.locator(".w-badge")).to_have_text("Denied")
    assert mcp.calls() == [("cancel_order", {"order_id": "A-1002", "reason": ""})]

    # A reload shows both decisions, without buttons.
    page.reload()
    expect(cards).to_have_count(2)
    expect(cards.locator(".w-badge")).to_have_text(["Approved", "Denied"])
    expect(cards.get_by_role("button")).to_have_count(0)
