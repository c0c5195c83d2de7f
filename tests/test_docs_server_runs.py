"""docs/server-runs.md works as written (issue 16): its code blocks, run against a real kithost.

The blocks marked ``<!-- test: NAME -->`` are taken from the markdown and run as a newcomer would
paste them: shell blocks with bash, one after another as in one terminal; the Python ones with
this virtualenv's interpreter; the Node ones with ``node`` from tests/node, where the ``openai``
and ``standardwebhooks`` packages are installed. They reach kithost through the variables the
doc has the reader export (``KITHOST_URL``, ``KITHOST_ADMIN_KEY``, ``WEBHOOK_URL``, ``PORT``).
What they print is checked, and what they did is checked through other doors: the user's own
ChatKit session (the thread and its answers are in their chat) and the webhook endpoints'
deliveries. The webhook receivers are the doc's own, run as written, verifying real deliveries.
SQLite only: the wire is the subject here, and the API's own tests cover both databases.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.support.chatkit_client import (
    BETA_HEADERS,
    ECHO,
    ChatKitClient,
    create_session,
    parse_sse,
    unique_user,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.doc_blocks import Block, Terminal, marked_blocks
from tests.support.ports import free_port
from tests.support.process import ADMIN_KEY, KithostProcess

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "server-runs.md"
NODE_DIR = ROOT / "tests" / "node"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS}
DOC_USER = "user_123"  # the user every example acts for
DEMO = "wf_kithost_demo"
# Every runnable block, and its language: a marker that goes missing fails the test.
RUNNABLE = {
    "curl-start": "sh",
    "curl-follow": "sh",
    "curl-cancel": "sh",
    "curl-wait": "sh",
    "curl-stream": "sh",
    "curl-user-sees": "sh",
    "curl-notice": "sh",
    "curl-update": "sh",
    "python-sdk": "python",
    "node-sdk": "js",
    "cli-webhook": "sh",
    "curl-webhook": "sh",
    "python-receiver": "python",
    "node-receiver": "js",
}
CARRIED = ("THREAD_ID", "RUN_ID", "CLIENT_SECRET", "WEBHOOK_SECRET")
RUN_TIMEOUT_SECONDS = 120
DELIVERY_WAIT_SECONDS = 60.0  # generous, for a loaded machine; all is well in a second or two


@pytest.fixture(scope="module")
def blocks() -> dict[str, Block]:
    return marked_blocks(DOC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("sqlite")) as url:
        # A receiver that is not listening yet is tried again a second later.
        env = {"KITHOST_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1"}
        process = KithostProcess(url, tmp_path_factory.mktemp("server"), env).start()
        yield process
        process.stop()


@pytest.fixture
def reader_env(server: KithostProcess) -> dict[str, str]:
    """The reader's shell after "Before you start": kithost's address and an admin key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITHOST_")}
    env.update(KITHOST_URL=server.url, KITHOST_ADMIN_KEY=ADMIN_KEY)
    return env


@pytest.fixture
def terminal(tmp_path: Path, reader_env: dict[str, str]) -> Terminal:
    return Terminal(tmp_path, reader_env, CARRIED)


@pytest.fixture
def admin_http(server: KithostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=60) as client:
        yield client


def users_chat(server: KithostProcess) -> ChatKitClient:
    """The doc's user in a browser: a fresh session of their own, the ChatKit protocol."""
    session = create_session(server.url, DOC_USER, DEMO)
    return ChatKitClient(server.url, session["client_secret"], session)


def texts(items: list[dict[str, Any]], item_type: str) -> list[str]:
    """The text of each item of one type (protocol or REST item shapes)."""
    return [
        "".join(part["text"] for part in item["content"])
        for item in items
        if item["type"] in (item_type, f"chatkit.{item_type}")
    ]


def sse_and_rest(output: str) -> tuple[list[dict[str, Any]], str]:
    """An event stream as curl printed it, and what follows its last blank line."""
    stream, _, rest = output.rpartition("\n\n")
    lines = [line for line in (stream + "\n\n").splitlines(keepends=True) if line.strip()]
    assert lines[0].startswith("id: "), output[:300]
    # The strict parser reads data lines only; the ids are checked apart.
    events = parse_sse("".join(f"{line}\n" for line in lines if line.startswith("data: ")).encode())
    ids = [int(line[4:]) for line in lines if line.startswith("id: ")]
    assert ids == list(range(1, len(events) + 1)), ids
    return events, rest


def test_every_runnable_block_is_marked(blocks: dict[str, Block]) -> None:
    assert {name: block.lang for name, block in blocks.items()} == RUNNABLE


# -- curl -------------------------------------------------------------------------------------
def test_the_curl_walkthrough(
    blocks: dict[str, Block], terminal: Terminal, server: KithostProcess
) -> None:
    started = json.loads(terminal.run(blocks["curl-start"]).stdout)
    thread_id, run_id = terminal.variables["THREAD_ID"], terminal.variables["RUN_ID"]
    assert started["object"] == "chatkit.turn"
    assert (started["thread"]["id"], started["run"]["id"]) == (thread_id, run_id)
    assert started["thread"]["title"] == "Order 1042"
    assert started["thread"]["metadata"] == {"order_id": "1042"}
    assert started["thread"]["user"] == DOC_USER
    assert started["items"][0]["type"] == "chatkit.user_message"
    assert (Path(terminal.cwd) / "turn.json").is_file()

    # Followed to its end: the events from the first, then the run, completed.
    events, run_json = sse_and_rest(terminal.run(blocks["curl-follow"]).stdout)
    assert events[0]["type"] == "thread.created"
    assert events[0]["thread"]["id"] == thread_id
    done = [event["item"] for event in events if event["type"] == "thread.item.done"]
    assert texts(done, "assistant_message")
    run = json.loads(run_json)
    assert (run["id"], run["status"]) == (run_id, "completed")

    waited = json.loads(terminal.run(blocks["curl-wait"]).stdout)
    assert waited["run"]["status"] == "completed"
    assert waited["thread"]["id"] == thread_id
    assert texts(waited["items"], "user_message") == ["Can it be left with a neighbour?"]
    [answer] = texts(waited["items"], "assistant_message")
    assert "Can it be left with a neighbour?" in answer  # the demo workflow quotes it

    events, after = sse_and_rest(terminal.run(blocks["curl-stream"]).stdout)
    assert after == ""
    assert events[0]["type"] == "thread.item.done"
    assert texts([events[0]["item"]], "user_message") == ["Thanks! Please ring twice."]
    done = [e["item"] for e in events if e["type"] == "thread.item.done"]
    assert "Thanks! Please ring twice." in texts(done, "assistant_message")[0]

    # What the user's chat loads: every message and answer of the three turns.
    page = json.loads(terminal.run(blocks["curl-user-sees"]).stdout)
    assert terminal.variables["CLIENT_SECRET"].startswith("ek_")
    assert texts(page["data"], "user_message") == [
        "Order 1042 has shipped. When will it arrive?",
        "Can it be left with a neighbour?",
        "Thanks! Please ring twice.",
    ]
    assert len(texts(page["data"], "assistant_message")) == 3

    notice = json.loads(terminal.run(blocks["curl-notice"]).stdout)
    assert notice["type"] == "chatkit.assistant_message"
    assert texts([notice], "assistant_message") == ["Update: order 1042 was delivered at 14:05."]

    updated = json.loads(terminal.run(blocks["curl-update"]).stdout)
    assert updated["title"] == "Order 1042 (delivered)"
    assert updated["status"] == {"type": "locked", "reason": "This order is closed."}

    # The user's next session: the thread in their history, locked, the notice last.
    with users_chat(server) as chat:
        listed = {thread["id"]: thread for thread in chat.list_threads(limit=100)["data"]}
        assert listed[thread_id]["title"] == "Order 1042 (delivered)"
        assert listed[thread_id]["status"]["type"] == "locked"
        items = chat.list_items(thread_id, order="asc", limit=100)["data"]
        assert texts(items, "assistant_message")[-1] == "Update: order 1042 was delivered at 14:05."


def test_the_curl_cancel_stops_a_run(
    blocks: dict[str, Block], terminal: Terminal, admin_http: httpx.Client
) -> None:
    # A slow answer (the echo workflow, a second a word) to stop half-way.
    response = admin_http.post(
        "/v1/chatkit/threads",
        json={
            "user": unique_user(),
            "workflow": {"id": ECHO, "state_variables": {"delay_ms": 1000}},
            "input": {"content": [{"type": "input_text", "text": "one two three four five six"}]},
        },
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["run"]["id"]
    cancelled = json.loads(terminal.run(blocks["curl-cancel"], RUN_ID=run_id).stdout)
    assert (cancelled["id"], cancelled["status"]) == (run_id, "cancelled")


# -- the SDKs ---------------------------------------------------------------------------------
def run_python(block: Block, env: dict[str, str], folder: Path) -> str:
    assert block.lang == "python"
    script = folder / f"{block.name}.py"
    script.write_text(block.code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"{block.name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def node() -> str:
    """``node``, with the packages of tests/node installed (``make test`` installs them)."""
    path = shutil.which("node")
    assert path, "node is not installed: install Node 20+ (`make test` expects it)"
    for package in ("openai", "standardwebhooks"):
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        assert manifest.is_file(), f"{manifest} is missing: run `npm ci` in {NODE_DIR}"
    return path


def run_node(block: Block, env: dict[str, str]) -> str:
    """The block as an ES module read from stdin in tests/node, where its imports resolve."""
    assert block.lang == "js"
    result = subprocess.run(
        [node(), "--input-type=module"],
        input=block.code,
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"{block.name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def printed(output: str) -> dict[str, str]:
    """``label: value`` lines, by label."""
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def test_the_python_sdk_example(
    blocks: dict[str, Block], reader_env: dict[str, str], tmp_path: Path, server: KithostProcess
) -> None:
    lines = printed(run_python(blocks["python-sdk"], reader_env, tmp_path))
    thread_id, status = lines["thread"].split(" run: ")
    assert status == "completed"
    assert "Summarise my week" in lines["answer"]
    assert "And what is next week?" in lines["streamed"]
    assert lines["items"].split() == [
        "chatkit.user_message",
        "chatkit.task_group",
        "chatkit.assistant_message",
        "chatkit.widget",
        "chatkit.user_message",
        "chatkit.task_group",
        "chatkit.assistant_message",
        "chatkit.widget",
        "chatkit.assistant_message",
    ]
    with users_chat(server) as chat:
        items = chat.list_items(thread_id, order="asc", limit=100)["data"]
        assert texts(items, "user_message") == ["Summarise my week", "And what is next week?"]
        assert texts(items, "assistant_message")[-1] == "Have a good weekend!"


def test_the_npm_sdk_example(
    blocks: dict[str, Block], reader_env: dict[str, str], server: KithostProcess
) -> None:
    lines = printed(run_node(blocks["node-sdk"], reader_env))
    thread_id, status = lines["thread"].split(" run: ")
    assert status == "completed"
    assert "Any news on my ticket?" in lines["answer"]
    assert "Please escalate it." in lines["streamed"]
    assert lines["status"] == "locked"
    with users_chat(server) as chat:
        thread = chat.get_thread(thread_id)
        assert thread["status"] == {"type": "locked", "reason": "Escalated to a person."}
        items = chat.list_items(thread_id, order="asc", limit=100)["data"]
        assert texts(items, "user_message") == ["Any news on my ticket?", "Please escalate it."]
        assert len(texts(items, "assistant_message")) == 2


# -- webhooks ---------------------------------------------------------------------------------
class Receiver:
    """One of the doc's receivers, running as written: its printed lines, collected."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, stdin: str = ""):
        self.port = int(env["PORT"])
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_listening(self) -> None:
        def listening() -> bool:
            assert self.proc.poll() is None, f"the receiver exited: {self.lines}"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, timeout=30)

    def wait_printed(self, start: str) -> None:
        """Until the receiver prints a line that starts with ``start``."""

        def printed() -> bool:
            return any(line.startswith(start) for line in list(self.lines))

        wait_until(printed, timeout=DELIVERY_WAIT_SECONDS)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def forged_delivery(port: int) -> httpx.Response:
    """A delivery signed with a secret that is not the endpoint's."""
    body = json.dumps({"type": "run.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
    wrong = Webhook("whsec_" + "QUJD" * 8)
    now = time.time()
    signature = wrong.sign("msg_forged", datetime.fromtimestamp(now, UTC), body)
    headers = {
        "webhook-id": "msg_forged",
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return httpx.post(f"http://127.0.0.1:{port}/kithost-events", content=body, headers=headers)


EVENTS = ["run.completed", "run.failed", "thread.created"]


def made_over_rest(
    blocks: dict[str, Block], shell: Terminal, server: KithostProcess, url: str
) -> tuple[str, str]:
    """The doc's curl command: the endpoint's id and secret (exported as WEBHOOK_SECRET)."""
    endpoint = json.loads(shell.run(blocks["curl-webhook"]).stdout)
    assert (endpoint["url"], endpoint["events"]) == (url, EVENTS)
    assert endpoint["secret"] == shell.variables["WEBHOOK_SECRET"]
    return endpoint["id"], endpoint["secret"]


def made_with_the_cli(
    blocks: dict[str, Block], shell: Terminal, server: KithostProcess, url: str
) -> tuple[str, str]:
    """The doc's ``kithost webhooks create``, run where kithost serves from (its database);
    the id and the secret it printed."""
    served = server.environment()
    here = {
        "KITHOST_DATABASE_URL": served["KITHOST_DATABASE_URL"],
        "KITHOST_DATA_DIR": served["KITHOST_DATA_DIR"],
        # `make serve` puts kithost in .venv/bin/, which the reader has on PATH or types.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{shell.env['PATH']}",
    }
    fields = printed(shell.run(blocks["cli-webhook"], **here).stdout)
    assert (fields["url"], fields["events"]) == (url, ", ".join(EVENTS))
    assert fields["secret"].startswith("whsec_")
    return fields["id"], fields["secret"]


def test_the_webhook_receivers_verify_a_real_run_completed(
    blocks: dict[str, Block],
    reader_env: dict[str, str],
    tmp_path: Path,
    admin_http: httpx.Client,
    server: KithostProcess,
) -> None:
    receivers: list[Receiver] = []
    endpoints: list[str] = []
    try:
        # One endpoint per receiver, made by the doc's commands: over REST, and with the CLI.
        for kind, make in (("python", made_over_rest), ("node", made_with_the_cli)):
            port = free_port()
            folder = tmp_path / kind
            folder.mkdir()
            url = f"http://127.0.0.1:{port}/kithost-events"
            endpoint_id, secret = make(
                blocks, Terminal(folder, {**reader_env, "WEBHOOK_URL": url}, CARRIED), server, url
            )
            endpoints.append(endpoint_id)
            env = {**reader_env, "PORT": str(port), "WEBHOOK_SECRET": secret}
            block = blocks[f"{kind}-receiver"]
            if kind == "python":
                script = folder / "receiver.py"
                script.write_text(block.code)
                receivers.append(Receiver([sys.executable, str(script)], env, folder))
            else:
                receivers.append(
                    Receiver([node(), "--input-type=module"], env, NODE_DIR, stdin=block.code)
                )
        for receiver in receivers:
            receiver.wait_listening()
            # A receiver that verifies: a delivery with another secret's signature is refused.
            assert forged_delivery(receiver.port).status_code == 400
            receiver.wait_printed("refused:")

        # A conversation started as the doc starts one; both receivers verify its events.
        started = Terminal(tmp_path, reader_env, CARRIED)
        started.run(blocks["curl-start"])
        thread_id, run_id = started.variables["THREAD_ID"], started.variables["RUN_ID"]
        for receiver in receivers:
            receiver.wait_printed(f"verified thread.created {thread_id}")
            receiver.wait_printed(f"verified run.completed {run_id}")

        # kithost saw each receiver accept the run's delivery.
        for endpoint_id in endpoints:

            def accepted(endpoint_id: str = endpoint_id) -> bool:
                listed = admin_http.get(f"/v1/chatkit/webhooks/{endpoint_id}/deliveries")
                return any(
                    d["event_type"] == "run.completed"
                    and d["status"] == "delivered"
                    and d["last_status_code"] == 204
                    for d in listed.json()["data"]
                )

            wait_until(accepted, timeout=DELIVERY_WAIT_SECONDS)
    finally:
        for receiver in receivers:
            receiver.stop()
        for endpoint_id in endpoints:
            admin_http.delete(f"/v1/chatkit/webhooks/{endpoint_id}")
