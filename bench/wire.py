"""Request bodies and stream reading for kithost's two faces and the ChatKit anchor."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.procs import CONTROL_HEADERS

TEXT_DELTA = b"assistant_message.content_part.text_delta"
# Sessions a benchmark may hit as hard as it likes (the default is 10 requests a minute).
NO_RATE_LIMIT = {"max_requests_per_1_minute": 10_000_000}


def session_body(user: str, workflow_id: str, rate_limited: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"user": user, "workflow": {"id": workflow_id}}
    if not rate_limited:
        body["rate_limits"] = NO_RATE_LIMIT
    return body


async def create_session(http: httpx.AsyncClient, user: str, workflow_id: str) -> str:
    """A session without a practical rate limit; its client secret."""
    response = await http.post(
        "/v1/chatkit/sessions", headers=CONTROL_HEADERS, json=session_body(user, workflow_id)
    )
    response.raise_for_status()
    secret: str = response.json()["client_secret"]
    return secret


def client_headers(secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return headers


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def threads_create(text: str) -> bytes:
    return json.dumps({"type": "threads.create", "params": {"input": user_input(text)}}).encode()


def add_user_message(thread_id: str, text: str) -> bytes:
    params = {"thread_id": thread_id, "input": user_input(text)}
    return json.dumps({"type": "threads.add_user_message", "params": params}).encode()


def items_list(thread_id: str, limit: int = 20, after: str | None = None) -> bytes:
    params: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": "desc"}
    if after:
        params["after"] = after
    return json.dumps({"type": "items.list", "params": params}).encode()


def threads_list(limit: int = 20) -> bytes:
    return json.dumps(
        {"type": "threads.list", "params": {"limit": limit, "order": "desc"}}
    ).encode()


@dataclass
class StreamTiming:
    """When a streamed turn's events arrived, in seconds after the request was sent."""

    status: int
    first_event: float | None = None  # thread.created, for threads.create
    first_token: float | None = None  # the first assistant text delta
    end: float | None = None
    thread_id: str | None = None


async def timed_stream(
    http: httpx.AsyncClient, path: str, body: bytes, secret: str | None
) -> StreamTiming:
    """Send a streaming ChatKit request and read it to the end, timing its events."""
    sent = time.perf_counter()
    async with http.stream("POST", path, content=body, headers=client_headers(secret)) as response:
        timing = StreamTiming(status=response.status_code)
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.perf_counter() - sent
            if timing.first_event is None:
                timing.first_event = now
                event = json.loads(line[6:])
                if event.get("type") == "thread.created":
                    timing.thread_id = event["thread"]["id"]
            if timing.first_token is None and TEXT_DELTA.decode() in line:
                timing.first_token = now
        timing.end = time.perf_counter() - sent
    return timing
