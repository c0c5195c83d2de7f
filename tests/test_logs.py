"""``KITHOST_LOG_FORMAT=json``: one JSON object per request and per run, with their fields, and
nothing secret in the whole log (admin key, client secret, what the user wrote)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai

from tests.support.chatkit_client import ECHO, ChatFactory, user_input
from tests.support.process import ADMIN_KEY, KithostProcess

MESSAGE = "my locker code is marmalade-4417"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every log line that is a JSON object (the banner on stdout is plain text)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_for_requests_and_runs_and_no_secrets(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(database_url, KITHOST_LOG_FORMAT="json", KITHOST_LOG_LEVEL="info")
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
        session = sdk.beta.chatkit.sessions.create(user="log-user", workflow={"id": ECHO})
    with ChatFactory(server.url) as factory:
        client = factory.client(session.client_secret, session.model_dump(mode="json"))
        turn = client.stream("threads.create", input=user_input(MESSAGE))
        assert turn.status_code == 200
        assert MESSAGE in turn.assistant_text()
        thread_id = turn.thread_id
    missing = httpx.get(f"{server.url}/v1/chatkit/threads/cthr_nope", timeout=10)
    assert missing.status_code == 401
    server.stop()  # every line written
    log = server.log_path.read_text()

    lines = json_lines(log)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    requests = [line for line in lines if line.get("event") == "request"]
    conversation = [line for line in requests if line["route"] == "/v1/chatkit/conversation"]
    assert len(conversation) == 1, requests
    request = conversation[0]
    assert request["method"] == "POST"
    assert request["status"] == 200
    assert request["request_id"].startswith("req_")
    assert request["session_id"] == session.id
    assert isinstance(request["duration_ms"], int | float)
    created = [line for line in requests if line["route"] == "/v1/chatkit/sessions"]
    assert [line["status"] for line in created] == [200]
    assert "session_id" not in created[0]  # the admin key's call is no session's
    # The route's template, never the raw path.
    template = "/v1/chatkit/threads/{thread_id}"
    assert [line["status"] for line in requests if line["route"] == template] == [401]

    runs = [line for line in lines if line.get("event") == "run"]
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["run_id"].startswith("run_")
    assert run["thread_id"] == thread_id
    assert run["session_id"] == session.id
    assert run["workflow"] == ECHO
    assert run["status"] == "completed"
    assert run["events"] == len(turn.events)
    assert isinstance(run["duration_ms"], int)

    # Nothing secret, and nothing the user wrote, in any line of the log.
    for secret in (ADMIN_KEY, session.client_secret, MESSAGE, "marmalade"):
        assert secret not in log
    # uvicorn's access lines are JSON too: no plain-text line is about a request.
    assert not [line for line in log.splitlines() if "HTTP/1.1" in line and line[0] != "{"]
    assert any(line["logger"] == "uvicorn.access" for line in lines)


def test_text_format_keeps_the_fields_readable(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(database_url, KITHOST_LOG_FORMAT="text", KITHOST_LOG_LEVEL="info")
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while "route=/healthz" not in server.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log_path.read_text()
    line = next(line for line in log.splitlines() if "route=/healthz" in line)
    assert "GET /healthz 200" in line
    assert "request_id=req_" in line
    assert not any(line.startswith("{") for line in log.splitlines())
