"""The browser's side of a workflow turn, for the workflow tests.

``POST /v1/chatkit/conversation`` with the session's client secret as a Bearer token; the
answer's ``data:`` lines parsed into events (chatkit-protocol.md §1, §3). A stream can be left
part-way, as the UI's Stop button does, by closing the connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx
import openai

CONVERSATION_PATH = "/v1/chatkit/conversation"

Event = dict[str, Any]


@dataclass
class Stream:
    """One streamed answer: its events, its raw bytes, and whether we hung up first."""

    status_code: int
    events: list[Event] = field(default_factory=list)
    raw: bytes = b""
    stopped: bool = False

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["type"] == kind]

    @property
    def thread_id(self) -> str:
        created = self.of_type("thread.created")
        assert created, f"no thread.created in {self.types}"
        return str(created[0]["thread"]["id"])

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def errors(self) -> list[Event]:
        return self.of_type("error")

    def done_items(self, item_type: str) -> list[dict[str, Any]]:
        return [
            event["item"]
            for event in self.of_type("thread.item.done")
            if event["item"]["type"] == item_type
        ]

    @property
    def answers(self) -> list[str]:
        """The text of every finished assistant message, in order."""
        return [
            "".join(part["text"] for part in item["content"])
            for item in self.done_items("assistant_message")
        ]

    @property
    def answer(self) -> str:
        answers = self.answers
        assert len(answers) == 1, f"expected one answer, got {answers} in {self.types}"
        return answers[0]

    @property
    def deltas(self) -> list[str]:
        return [
            event["update"]["delta"]
            for event in self.of_type("thread.item.updated")
            if event["update"]["type"] == "assistant_message.content_part.text_delta"
        ]


def user_input(text: str) -> dict[str, Any]:
    """A ``UserMessageInput`` as chatkit-js sends it."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "quoted_text": "",
        "attachments": [],
        "inference_options": {},
    }


def first_delta(event: Event) -> bool:
    """A ``stop_when`` for Stop mid-answer: the first streamed piece of text."""
    return (
        event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.text_delta"
    )


class Conversation:
    """One browser session against kithost's conversation endpoint."""

    def __init__(self, base_url: str, client_secret: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {client_secret}"},
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.http.close()

    def send(
        self, kind: str, params: dict[str, Any], stop_when: Callable[[Event], bool] | None = None
    ) -> Stream:
        """Stream a request to its end, or hang up once ``stop_when(event)`` holds."""
        body = {"type": kind, "params": params}
        headers = {"Accept": "text/event-stream"}
        with self.http.stream("POST", CONVERSATION_PATH, json=body, headers=headers) as response:
            stream = Stream(response.status_code)
            if response.status_code != 200:
                stream.raw = response.read()
                return stream
            pending = b""
            for chunk in response.iter_bytes():
                stream.raw += chunk
                pending += chunk
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    line = block.decode()
                    assert line.startswith("data: "), f"not a ChatKit SSE event: {line!r}"
                    stream.events.append(json.loads(line.removeprefix("data: ")))
                    if stop_when is not None and stop_when(stream.events[-1]):
                        stream.stopped = True
                        return stream  # leaving the block closes the connection: Stop
            assert not pending, f"the stream ended inside an event: {pending!r}"
        return stream

    def start(self, text: str, stop_when: Callable[[Event], bool] | None = None) -> Stream:
        """``threads.create`` with a first message."""
        return self.send("threads.create", {"input": user_input(text)}, stop_when)

    def reply(
        self, thread_id: str, text: str, stop_when: Callable[[Event], bool] | None = None
    ) -> Stream:
        """``threads.add_user_message``."""
        params = {"thread_id": thread_id, "input": user_input(text)}
        return self.send("threads.add_user_message", params, stop_when)


def client_secret(
    admin: openai.OpenAI,
    workflow_id: str,
    *,
    user: str = "workflow-tests",
    version: str | None = None,
    state_variables: dict[str, Any] | None = None,
    tracing: bool = True,
    titling: bool = True,
) -> str:
    """Create a session through the official SDK; its client secret."""
    workflow: dict[str, Any] = {"id": workflow_id, "tracing": {"enabled": tracing}}
    if version is not None:
        workflow["version"] = version
    if state_variables is not None:
        workflow["state_variables"] = state_variables
    session = admin.beta.chatkit.sessions.create(
        user=user,
        workflow=workflow,
        chatkit_configuration={"automatic_thread_titling": {"enabled": titling}},
    )
    return session.client_secret
