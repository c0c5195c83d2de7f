"""Secrets stay where they belong: every output of kithost is grepped for them.

An export's ``HostedMCPTool`` carries a recognisable ``authorization`` token and an API-key
header, and the model provider's key (``OPENAI_API_KEY``) is just as recognisable. Runs that
succeed, that ask for approval, whose MCP server is down, whose tool cannot run here, and whose
provider fails (echoing the secrets back in its errors) are driven through the ChatKit
protocol; then the SSE bytes sent to the browser, every REST response, kithost's log and every
stored row are searched for the secrets. Only the MCP server may see its token (and the
provider its key): the test checks that they did, so the secrets were really in play.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from kithost.store.database import create_engine
from kithost.store.tables import metadata
from tests.support.chatkit_stream import Conversation, Stream, client_secret
from tests.support.fake_model import (
    FakeModelServer,
    ModelRequest,
    Reply,
    error,
    stream_error,
    text,
    tool_call,
)
from tests.support.mcp_exports import mcp_export, tool_config
from tests.support.mcp_server import McpServerProcess
from tests.support.process import free_port
from tests.support.workflow_files import (
    CONTROL_HEADERS,
    admin_client,
    is_title_request,
    kithost_env,
    serving,
    write,
)

MCP_SECRET = "sk-mcp-SECRET-4b1d9e2f7a63c05e"
HEADER_SECRET = "hdr-SECRET-91ce3f08d2b7a4e6"
PROVIDER_KEY = "sk-provider-SECRET-8c2e51f0b7d94a36"
SECRETS = (MCP_SECRET, HEADER_SECRET, PROVIDER_KEY)
# A distinctive piece of each, so a half-masked secret counts as a leak too.
PIECES = tuple(secret[-16:] for secret in SECRETS)

ORDERS = "wf_secret_orders"
DOWN = "wf_secret_down"
RUNTIME_CONNECTOR = "wf_secret_runtime_connector"
CONNECTOR = "wf_secret_connector"
USER = "secret-hygiene"


def secret_config(url: str, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "authorization": MCP_SECRET,
        "headers": {"X-Api-Key": HEADER_SECRET},
        "require_approval": {"always": {"tool_names": ["cancel_order"]}},
    }
    return tool_config(url, **{**options, **overrides})


def order_desk(request: ModelRequest) -> Reply:
    """Calls the tool the user's words ask for, then answers from its result."""
    said = request.transcript
    if said and said[-1][0] == "tool":
        return text(f"Done: {said[-1][1]}")
    wanted = request.last_user_text.lower()
    if "cancel" in wanted:
        return tool_call("cancel_order", {"order_id": "A-1002"})
    return tool_call(request.tool_names[0], {"order_id": "A-1001"})


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServerProcess]:
    server = McpServerProcess(MCP_SECRET, tmp_path_factory.mktemp("mcp")).start()
    yield server
    server.stop()


def write_exports(folder: Path, mcp: McpServerProcess) -> None:
    write(folder, "orders.py", mcp_export(ORDERS, secret_config(mcp.url)))
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    write(folder, "down.py", mcp_export(DOWN, secret_config(dead, label="warehouse")))
    connector = secret_config(mcp.url, connector_id="connector_sharepoint")
    write(
        folder,
        "runtime_connector.py",
        mcp_export(RUNTIME_CONNECTOR, connector, agent_inside_run=True),
    )
    write(folder, "connector.py", mcp_export(CONNECTOR, connector))


class Outputs:
    """Everything kithost sent anywhere during the test, by where it went."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    def add(self, where: str, data: bytes | str) -> None:
        self.seen.append((where, data.encode() if isinstance(data, str) else data))

    def stream(self, where: str, stream: Stream) -> Stream:
        assert stream.status_code == 200, stream.raw
        self.add(f"SSE {where}", stream.raw)
        return stream

    def leaks(self) -> list[str]:
        """Each place a secret showed up, with what surrounds it (to find the culprit)."""
        found = []
        for where, data in self.seen:
            for piece in PIECES:
                at = data.find(piece.encode())
                if at >= 0:
                    context = data[max(0, at - 160) : at + 40].decode(errors="replace")
                    found.append(f"{where}: …{context}…")
        return found


def rest(outputs: Outputs, base_url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base_url}{path}", headers=CONTROL_HEADERS, params=params, timeout=30)
    outputs.add(f"GET {path}", response.content)
    assert response.status_code == 200, response.text
    return response.json()


def stored_rows(database_url: str) -> str:
    """Every row of every table, as text."""

    async def dump() -> str:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = []
                for table in metadata.sorted_tables:
                    result = await connection.execute(sa.select(table))
                    rows += [f"{table.name}: {tuple(row)}" for row in result]
                return "\n".join(rows)
        finally:
            await engine.dispose()

    return asyncio.run(dump())


def test_no_output_contains_a_secret(
    database_url: str, fake: FakeModelServer, mcp: McpServerProcess, tmp_path: Path
) -> None:
    fake.reset()
    fake.when(is_title_request, text("Orders"))
    folder = tmp_path / "workflows"
    write_exports(folder, mcp)
    env = kithost_env(fake.base_url, "chat_completions", folder)
    env.update(OPENAI_API_KEY=PROVIDER_KEY, KITHOST_LOG_LEVEL="info")
    outputs = Outputs()
    threads: list[str] = []

    with (
        serving(database_url, tmp_path / "kithost", env) as kithost,
        admin_client(kithost) as admin,
    ):

        def conversation(workflow_id: str) -> Conversation:
            return Conversation(kithost.url, client_secret(admin, workflow_id, user=USER))

        # A call that succeeds, and one the user approves.
        fake.when(lambda r: not is_title_request(r), order_desk)
        with conversation(ORDERS) as chat:
            looked_up = outputs.stream("lookup", chat.start("Where is A-1001?"))
            asked = outputs.stream("approval", chat.reply(looked_up.thread_id, "Cancel A-1002"))
            [card] = asked.done_items("widget")
            approve = card["widget"]["confirm"]["action"]
            answered = outputs.stream(
                "approved",
                chat.send(
                    "threads.custom_action",
                    {"thread_id": looked_up.thread_id, "item_id": card["id"], "action": approve},
                ),
            )
        assert looked_up.errors == answered.errors == []
        assert answered.answer == "Done: Order A-1002 is cancelled."
        threads.append(looked_up.thread_id)

        # The MCP server is down.
        with conversation(DOWN) as chat:
            down = outputs.stream("server down", chat.start("Where is A-1001?"))
        assert down.errors == []
        assert "could not be reached" in down.answer
        threads.append(down.thread_id)

        # A tool that cannot run on this provider, met only when the turn runs.
        with conversation(RUNTIME_CONNECTOR) as chat:
            unsupported = outputs.stream("unsupported tool", chat.start("Any news?"))
        [refused] = unsupported.errors
        assert "HostedMCPTool" in refused["message"]
        threads.append(unsupported.thread_id)

        # The same tool at module level: refused when the session is made.
        response = httpx.post(
            f"{kithost.url}/v1/chatkit/sessions",
            headers=CONTROL_HEADERS,
            json={"user": USER, "workflow": {"id": CONNECTOR}},
            timeout=30,
        )
        outputs.add("POST /v1/chatkit/sessions (unavailable)", response.content)
        assert response.status_code == 400

        # The provider fails, echoing the secrets back.
        echoed = f"key {PROVIDER_KEY} token {MCP_SECRET} header {HEADER_SECRET}"
        fake.reset()
        fake.when(is_title_request, text("Orders"))
        fake.push(
            error(401, f"Incorrect API key provided: {PROVIDER_KEY}"),
            stream_error(f"upstream trouble ({echoed})"),
            error(500, echoed),
            error(500, echoed),
            error(500, echoed),
        )
        with conversation(ORDERS) as chat:
            for attempt in ("first", "second", "third"):
                failed = outputs.stream(f"provider fails ({attempt})", chat.start("Hello?"))
                assert failed.errors, failed.types
                threads.append(failed.thread_id)

        # Every REST response about all of it.
        rest(outputs, kithost.url, "/v1/chatkit/threads", user=USER, limit=100)
        rest(outputs, kithost.url, "/v1/chatkit/sessions", user=USER, limit=100)
        rest(outputs, kithost.url, "/v1/chatkit/workflows")
        for thread_id in threads:
            rest(outputs, kithost.url, f"/v1/chatkit/threads/{thread_id}")
            rest(outputs, kithost.url, f"/v1/chatkit/threads/{thread_id}/items", limit=100)
            rest(outputs, kithost.url, f"/v1/chatkit/threads/{thread_id}/traces")
        with pytest.raises(openai.BadRequestError):
            client_secret(admin, CONNECTOR, user=USER)

    outputs.add("kithost log", kithost.log_path.read_bytes())
    outputs.add("stored rows", stored_rows(database_url))
    leaks = outputs.leaks()
    assert not leaks, "\n".join(leaks)

    # The secrets were in play: the MCP server got its token and header on every request, and
    # the provider its key.
    requests = mcp.requests()
    assert requests
    assert {r["headers"]["authorization"] for r in requests} == {f"Bearer {MCP_SECRET}"}
    assert {r["headers"]["x-api-key"] for r in requests} == {HEADER_SECRET}
    assert all(f"Bearer {PROVIDER_KEY}" == r.headers.get("authorization") for r in fake.requests)
