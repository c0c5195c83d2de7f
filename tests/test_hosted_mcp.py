"""``HostedMCPTool`` exports on a provider that is not OpenAI: kithost is the MCP client.

A real MCP server (``tests/support/mcp_server.py``, the ``mcp`` package, a subprocess) stands
behind the exports; the fake model calls the tool it is offered, then answers from the tool's
result. Checked: both transports, headers and ``authorization``, ``allowed_tools``, the tool
list cache, approvals (approve, deny, stale answers, Stop by a new message, expiry), servers
that are down, and on the Responses API the hosted tool passing through unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.chatkit_stream import Conversation, Stream, client_secret
from tests.support.fake_model import (
    FakeModelServer,
    ModelRequest,
    Reply,
    ToolCall,
    text,
    tool_call,
    tool_calls,
)
from tests.support.mcp_exports import mcp_export, tool_config
from tests.support.mcp_server import McpServerProcess
from tests.support.process import KithostProcess, free_port
from tests.support.workflow_files import (
    admin_client,
    is_title_request,
    kithost_env,
    serving,
    wait_until,
    workflow_requests,
    write,
)

TOKEN = "mcp-test-token-7f3a9c"
TENANT = "harbor-lights"
ORDERS = "wf_mcp_orders"  # streamable HTTP; lookup_order runs, cancel_order asks first
ORDERS_SSE = "wf_mcp_orders_sse"  # SSE; only lookup_order allowed
ORDERS_DOWN = "wf_mcp_orders_down"  # a URL where nothing listens
CONNECTOR = "wf_mcp_connector"  # an OpenAI connector: no URL to reach
LOOKUP_RESULT = "Order A-1001: shipped on 3 March by Parcelo, tracking PX-77"
CANCEL_RESULT = "Order A-1002 is cancelled."
APPROVAL = "kithost.tool_approval"


def orders_config(url: str, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "authorization": TOKEN,
        "headers": {"X-Tenant": TENANT},
        "require_approval": {
            "never": {"tool_names": ["lookup_order"]},
            "always": {"tool_names": ["cancel_order"]},
        },
    }
    return tool_config(url, **{**options, **overrides})


def write_exports(folder: Path, mcp: McpServerProcess) -> None:
    write(folder, "orders.py", mcp_export(ORDERS, orders_config(mcp.url)))
    sse = orders_config(
        mcp.sse_url, allowed_tools={"tool_names": ["lookup_order"]}, require_approval="never"
    )
    write(folder, "orders_sse.py", mcp_export(ORDERS_SSE, sse))
    down = orders_config(f"http://127.0.0.1:{free_port()}/mcp", label="warehouse")
    write(folder, "orders_down.py", mcp_export(ORDERS_DOWN, down))
    connector = tool_config(mcp.url, connector_id="connector_googledrive")
    write(folder, "connector.py", mcp_export(CONNECTOR, connector))


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServerProcess]:
    server = McpServerProcess(TOKEN, tmp_path_factory.mktemp("mcp")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    fake: FakeModelServer,
    mcp: McpServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("mcp-kithost")
    folder = workdir / "workflows"
    write_exports(folder, mcp)
    env = kithost_env(fake.base_url, "chat_completions", folder)
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModelServer, mcp: McpServerProcess) -> None:
    fake.reset()
    fake.when(is_title_request, text("Orders"))
    mcp.forget()


def calls_then_answers(name: str, arguments: dict[str, Any]) -> Callable[[ModelRequest], Reply]:
    """The fake model: call ``name`` when offered it, then answer from the tool's result."""

    def reply(request: ModelRequest) -> Reply:
        said = request.transcript
        if said and said[-1][0] == "tool":
            return text(f"The order desk says: {said[-1][1]}")
        assert name in request.tool_names, request.tool_names
        return tool_call(name, arguments)

    return reply


def chat(kithost: KithostProcess, admin: openai.OpenAI, workflow_id: str) -> Conversation:
    return Conversation(kithost.url, client_secret(admin, workflow_id, user="mcp-tests"))


def action(chat: Conversation, stream: Stream, decision: str) -> Stream:
    """Press Approve or Deny on the stream's approval card."""
    [card] = stream.done_items("widget")
    payload = card["widget"]["confirm" if decision == "approve" else "cancel"]["action"]
    return chat.send(
        "threads.custom_action",
        {"thread_id": stream.thread_id, "item_id": card["id"], "action": payload},
    )


def badge(widget: dict[str, Any]) -> str:
    """The status badge of an approval card."""
    found = [
        node["label"]
        for node in _walk(widget)
        if node.get("type") == "Badge" and node.get("id") == "approval-status"
    ]
    assert len(found) == 1, widget
    return str(found[0])


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.get("children", []):
            yield from _walk(child)


def stored_items(admin: openai.OpenAI, thread_id: str) -> list[dict[str, Any]]:
    page = admin.beta.chatkit.threads.list_items(thread_id, order="asc", limit=100)
    return [item.model_dump() for item in page.data]


def stored_cards(admin: openai.OpenAI, thread_id: str) -> list[dict[str, Any]]:
    """The thread's approval cards as the REST API returns them."""
    cards = [
        item["widget"]
        for item in stored_items(admin, thread_id)
        if item["type"] == "chatkit.widget"
    ]
    return [json.loads(card) if isinstance(card, str) else dict(card) for card in cards]


def stored_card(admin: openai.OpenAI, thread_id: str) -> dict[str, Any]:
    [card] = stored_cards(admin, thread_id)
    return card


# ------------------------------------------------------------------------------ tool calls


def test_tool_runs_and_the_model_answers_from_its_result(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("lookup_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        stream = conversation.start("Where is my order A-1001?")

    assert stream.errors == []
    assert stream.answer == f"The order desk says: {LOOKUP_RESULT}"
    assert stream.done_items("widget") == []  # lookup_order needs no approval
    first, second = workflow_requests(fake.requests)
    # The server's tools under their own names; allowed_tools keeps list_warehouses out.
    assert sorted(first.tool_names) == ["cancel_order", "lookup_order"]
    assert ("tool", LOOKUP_RESULT) in second.transcript
    assert mcp.calls() == [("lookup_order", {"order_id": "A-1001"})]
    # Every request carried the export's authorization and headers, as OpenAI sends them.
    seen = {(r["headers"]["authorization"], r["headers"]["x-tenant"]) for r in mcp.requests()}
    assert seen == {(f"Bearer {TOKEN}", TENANT)}
    assert {r["path"] for r in mcp.requests()} == {"/mcp"}


def test_sse_transport_when_the_url_ends_in_sse(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("lookup_order", {"order_id": "A-1002"}))
    with chat(kithost, admin, ORDERS_SSE) as conversation:
        stream = conversation.start("And A-1002?")

    assert stream.errors == []
    assert stream.answer == "The order desk says: Order A-1002: waiting for payment"
    assert workflow_requests(fake.requests)[0].tool_names == ["lookup_order"]
    assert mcp.calls() == [("lookup_order", {"order_id": "A-1002"})]
    paths = {(r["method"], r["path"]) for r in mcp.requests()}
    assert ("GET", "/sse") in paths
    assert ("POST", "/mcp") not in paths


def test_the_tool_list_is_cached_across_model_calls_and_turns(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(
        lambda r: r.last_user_text.startswith("Where"),
        calls_then_answers("lookup_order", {"order_id": "A-1001"}),
    )
    fake.when(lambda r: True, text("Anything else?"))
    with chat(kithost, admin, ORDERS_SSE) as conversation:
        first = conversation.start("Where is A-1001?")
        after_first_turn = mcp.listings()
        later = [conversation.reply(first.thread_id, said) for said in ("Thanks", "Bye")]

    assert [first.errors, *(stream.errors for stream in later)] == [[], [], []]
    requests = workflow_requests(fake.requests)
    assert len(requests) == 4
    assert all(request.tool_names == ["lookup_order"] for request in requests)
    # The call itself re-reads the list (the mcp client checks results against it); the
    # model calls do not: at most one listing for the cache, then none for 60 seconds.
    assert after_first_turn <= 2
    assert mcp.listings() == after_first_turn
    assert len(mcp.calls()) == 1


# ------------------------------------------------------------------------------ approvals


def test_approve_runs_the_call_and_the_model_answers(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1002"}))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel order A-1002 please")
        # The stream ends with the card: nothing ran yet, and no answer was written.
        assert asked.errors == []
        assert asked.answers == []
        [card] = asked.done_items("widget")
        assert badge(card["widget"]) == "Waiting"
        assert "cancel_order" in json.dumps(card["widget"])
        assert "A-1002" in json.dumps(card["widget"])
        assert mcp.calls() == []
        assert len(workflow_requests(fake.requests)) == 1

        answered = action(conversation, asked, "approve")

    assert answered.errors == []
    [replaced] = answered.of_type("thread.item.replaced")
    assert replaced["item"]["id"] == card["id"]
    assert badge(replaced["item"]["widget"]) == "Approved"
    assert answered.answer == f"The order desk says: {CANCEL_RESULT}"
    assert mcp.calls() == [("cancel_order", {"order_id": "A-1002", "reason": ""})]
    # A reload shows the decision and the answer.
    assert badge(stored_card(admin, asked.thread_id)) == "Approved"
    kinds = [item["type"] for item in stored_items(admin, asked.thread_id)]
    assert kinds == ["chatkit.user_message", "chatkit.widget", "chatkit.assistant_message"]


def test_deny_tells_the_model_and_nothing_runs(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel A-1001")
        answered = action(conversation, asked, "deny")

    assert answered.errors == []
    assert badge(answered.of_type("thread.item.replaced")[0]["item"]["widget"]) == "Denied"
    assert answered.answer.startswith("The order desk says: The user denied this tool call")
    assert mcp.calls() == []
    assert badge(stored_card(admin, asked.thread_id)) == "Denied"


def test_two_calls_in_one_model_turn_ask_one_after_the_other(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    def two_cancellations(request: ModelRequest) -> Reply:
        results = [said for role, said in request.transcript if role == "tool"]
        if results:
            return text(" | ".join(sorted(results)))
        return tool_calls(
            ToolCall("cancel_order", {"order_id": "A-1001"}),
            ToolCall("cancel_order", {"order_id": "A-1002"}),
        )

    fake.when(lambda r: True, two_cancellations)
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel both of my orders")
        [first] = asked.done_items("widget")
        approved = action(conversation, asked, "approve")
        # The first card's update comes at once; then the second card parks the run again.
        [replaced] = approved.of_type("thread.item.replaced")
        assert replaced["item"]["id"] == first["id"]
        assert badge(replaced["item"]["widget"]) == "Approved"
        [second] = approved.done_items("widget")
        assert approved.answers == []
        denied = conversation.send(
            "threads.custom_action",
            {
                "thread_id": asked.thread_id,
                "item_id": second["id"],
                "action": second["widget"]["cancel"]["action"],
            },
        )

    assert denied.errors == []
    assert badge(denied.of_type("thread.item.replaced")[0]["item"]["widget"]) == "Denied"
    first_order = "A-1001" if "A-1001" in json.dumps(first["widget"]) else "A-1002"
    assert mcp.calls() == [("cancel_order", {"order_id": first_order, "reason": ""})]
    assert f"Order {first_order} is cancelled." in denied.answer
    assert "The user denied this tool call" in denied.answer
    assert sorted(badge(card) for card in stored_cards(admin, asked.thread_id)) == [
        "Approved",
        "Denied",
    ]


def test_an_answer_for_no_waiting_approval_is_an_error_event(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel A-1001")
        approved = action(conversation, asked, "approve")
        again = action(conversation, asked, "deny")  # a double click, or a second tab
        [card] = asked.done_items("widget")
        forged = conversation.send(
            "threads.custom_action",
            {
                "thread_id": asked.thread_id,
                "item_id": card["id"],
                "action": {
                    "type": APPROVAL,
                    "payload": {"approval_id": "apr_unknown", "decision": "approve"},
                },
            },
        )

    assert approved.errors == []
    for stream in (again, forged):
        assert stream.status_code == 200
        [error] = stream.errors
        assert "no longer waiting" in error["message"]
        assert error["allow_retry"] is False
    # The decided card stays as it was.
    assert badge(stored_card(admin, asked.thread_id)) == "Approved"


def test_a_new_message_stops_the_parked_run(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(
        lambda r: "cancel" in r.last_user_text.lower(),
        calls_then_answers("cancel_order", {"order_id": "A-1002"}),
    )
    fake.when(lambda r: True, text("Sure, what else?"))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel A-1002")
        moved_on = conversation.reply(asked.thread_id, "Never mind that")
        late = action(conversation, asked, "approve")

    assert moved_on.errors == []
    [replaced] = moved_on.of_type("thread.item.replaced")
    assert badge(replaced["item"]["widget"]) == "Cancelled"
    assert moved_on.answer == "Sure, what else?"
    assert "no longer waiting" in late.errors[0]["message"]
    assert mcp.calls() == []
    assert badge(stored_card(admin, asked.thread_id)) == "Cancelled"


def test_approvals_are_not_answered_by_sync_actions(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel A-1001")
        [card] = asked.done_items("widget")
        response = conversation.http.post(
            "/v1/chatkit/conversation",
            json={
                "type": "threads.sync_custom_action",
                "params": {
                    "thread_id": asked.thread_id,
                    "item_id": card["id"],
                    "action": card["widget"]["confirm"]["action"],
                },
            },
        )
        approved = action(conversation, asked, "approve")  # the card still works

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "approval_needs_streaming"
    assert approved.errors == []


def test_an_unanswered_approval_expires(
    database_url: str,
    fake: FakeModelServer,
    mcp: McpServerProcess,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "workflows"
    write_exports(folder, mcp)
    env = kithost_env(fake.base_url, "chat_completions", folder, KITHOST_MCP_APPROVAL_TIMEOUT="1")
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1001"}))
    with (
        serving(database_url, tmp_path / "kithost", env) as process,
        admin_client(process) as admin,
        chat(process, admin, ORDERS) as conversation,
    ):
        asked = conversation.start("Cancel A-1001")
        wait_until(lambda: badge(stored_card(admin, asked.thread_id)) == "Expired")
        late = action(conversation, asked, "approve")

    assert "no longer waiting" in late.errors[0]["message"]
    assert mcp.calls() == []
    assert len(workflow_requests(fake.requests)) == 1  # the parked run ended there


def test_a_card_from_before_a_restart_says_it_expired(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("cancel_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        asked = conversation.start("Cancel A-1001")
        kithost.restart()  # the parked run lived in the old process
        late = action(conversation, asked, "approve")

    [error] = late.errors
    assert "no longer waiting" in error["message"]
    [replaced] = late.of_type("thread.item.replaced")
    assert badge(replaced["item"]["widget"]) == "Expired"
    assert badge(stored_card(admin, asked.thread_id)) == "Expired"
    assert mcp.calls() == []


# ------------------------------------------------------------------------------ failures


def test_an_unreachable_server_gives_the_model_an_error_result(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(lambda r: True, calls_then_answers("warehouse", {}))
    with chat(kithost, admin, ORDERS_DOWN) as conversation:
        stream = conversation.start("Where is my order?")

    assert stream.errors == []
    first, second = workflow_requests(fake.requests)
    assert first.tool_names == ["warehouse"]  # a stand-in under the server's label
    [(_, result)] = [turn for turn in second.transcript if turn[0] == "tool"]
    assert "could not be reached" in result
    assert stream.answer.startswith("The order desk says: The MCP server 'warehouse'")
    log = kithost.log_path.read_text()
    assert "MCP server 'warehouse' could not list its tools" in log
    assert TOKEN not in log


def test_a_server_that_goes_down_after_listing(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, mcp: McpServerProcess
) -> None:
    fake.when(lambda r: True, calls_then_answers("lookup_order", {"order_id": "A-1001"}))
    with chat(kithost, admin, ORDERS) as conversation:
        first = conversation.start("Where is A-1001?")  # lists (or reuses) the tools
        mcp.stop()
        try:
            second = conversation.reply(first.thread_id, "Again?")
        finally:
            mcp.start()

    assert first.errors == second.errors == []
    tool_results = [
        said for role, said in workflow_requests(fake.requests)[-1].transcript if role == "tool"
    ]
    assert "could not run lookup_order" in tool_results[-1]
    assert "could not run lookup_order" in second.answer
    log = kithost.log_path.read_text()
    assert "MCP server 'orders' failed to run lookup_order" in log
    assert TOKEN not in log


def test_a_connector_cannot_run_off_openai(kithost: KithostProcess, admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client_secret(admin, CONNECTOR)
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "workflow_unavailable"
    assert 'HostedMCPTool "orders"' in error["message"]
    assert "OpenAI connectors" in error["message"]


def test_workflows_check_explains_each_mcp_tool(mcp: McpServerProcess, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    write_exports(folder, mcp)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    env.update(OPENAI_BASE_URL="http://127.0.0.1:9/v1", KITHOST_MODEL_API="chat_completions")
    checked = subprocess.run(
        [sys.executable, "-m", "kithost", "workflows", "check", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = checked.stdout + checked.stderr
    assert checked.returncode == 1  # the connector export cannot run here
    assert (
        'HostedMCPTool "orders": local equivalent (kithost connects to the MCP server itself, '
        "over streamable HTTP; some calls ask the user for approval in the chat)"
    ) in output
    assert "over SSE; no call asks for approval" in output
    assert "OpenAI connectors (connector_id) run only on OpenAI's Responses API" in output
    assert TOKEN not in output


# ------------------------------------------------------------------------ Responses API


def test_passthrough_sends_the_hosted_tool_unchanged(
    database_url: str, fake: FakeModelServer, mcp: McpServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    write_exports(folder, mcp)
    env = kithost_env(fake.base_url, "responses", folder, KITHOST_HOSTED_TOOLS="passthrough")
    fake.when(lambda r: True, text("OpenAI ran the tool."))
    with (
        serving(database_url, tmp_path / "kithost", env) as process,
        admin_client(process) as admin,
        chat(process, admin, ORDERS) as conversation,
    ):
        stream = conversation.start("Where is A-1001?")

    assert stream.answer == "OpenAI ran the tool."
    [request] = workflow_requests(fake.requests)
    assert request.api == "responses"
    [hosted] = [tool for tool in request.body["tools"] if tool.get("type") == "mcp"]
    assert hosted == orders_config(mcp.url)
    assert mcp.entries() == []  # kithost never called the server itself


def test_local_tools_on_a_responses_server_that_is_not_openai(
    database_url: str, fake: FakeModelServer, mcp: McpServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    write_exports(folder, mcp)
    env = kithost_env(fake.base_url, "responses", folder, KITHOST_HOSTED_TOOLS="local")
    fake.when(lambda r: True, calls_then_answers("lookup_order", {"order_id": "A-1001"}))
    with (
        serving(database_url, tmp_path / "kithost", env) as process,
        admin_client(process) as admin,
        chat(process, admin, ORDERS) as conversation,
    ):
        stream = conversation.start("Where is A-1001?")

    assert stream.errors == []
    assert stream.answer == f"The order desk says: {LOOKUP_RESULT}"
    first = workflow_requests(fake.requests)[0]
    assert first.api == "responses"
    assert all(tool["type"] == "function" for tool in first.body["tools"])
    assert mcp.calls() == [("lookup_order", {"order_id": "A-1001"})]
