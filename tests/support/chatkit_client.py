"""A small ChatKit protocol client for end-to-end tests (chatkit-protocol.md §1-§3).

It speaks to ``POST /v1/chatkit/conversation`` the way chatkit-js does in custom-backend mode:
one JSON body ``{type, params}`` per request, the session's client secret as a Bearer token,
and ``text/event-stream`` answers parsed from their ``data:`` lines. Streams can be abandoned
part-way (the UI's Stop button), and a connection the server drops is reported, not raised.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from tests.support.process import ADMIN_KEY

CONVERSATION_PATH = "/v1/chatkit/conversation"
FILES_PATH = "/v1/chatkit/files"
BETA_HEADERS = {"OpenAI-Beta": "chatkit_beta=v1"}
ECHO = "wf_kithost_echo"
DEMO = "wf_kithost_demo"

Event = dict[str, Any]


class SseFramingError(AssertionError):
    """The stream broke ChatKit's framing: one ``data: <json>`` line per event, blank-separated."""


def parse_sse(raw: bytes) -> list[Event]:
    """Parse a complete ChatKit SSE body strictly; any other line kind is a framing error."""
    text = raw.decode("utf-8")
    if not text:
        return []
    if not text.endswith("\n\n"):
        raise SseFramingError(f"the stream does not end with a blank line: {text[-80:]!r}")
    events = []
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        if len(lines) != 1 or not lines[0].startswith("data: "):
            raise SseFramingError(f"unexpected SSE block: {block[:200]!r}")
        events.append(_event(lines[0][len("data: ") :]))
    return events


def _event(payload: str) -> Event:
    event = json.loads(payload)
    if not isinstance(event, dict) or "type" not in event:
        raise SseFramingError(f"an event is not an object with a type: {payload[:200]!r}")
    return event


@dataclass
class StreamResult:
    """What came back for one streaming request."""

    status_code: int
    headers: httpx.Headers
    events: list[Event] = field(default_factory=list)
    raw: bytes = b""
    # Why the stream ended early: "stopped" (we hung up) or "dropped" (the server did).
    ended_early: str | None = None
    # The JSON body of an answer that is not a stream (an error envelope, mostly).
    body: Any = None

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["type"] == kind]

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    def done_items(self, item_type: str | None = None) -> list[dict[str, Any]]:
        items = [event["item"] for event in self.of_type("thread.item.done")]
        return [item for item in items if item_type is None or item["type"] == item_type]

    @property
    def thread(self) -> dict[str, Any]:
        created = self.of_type("thread.created")
        assert created, f"no thread.created event in {self.types()}"
        thread: dict[str, Any] = created[0]["thread"]
        return thread

    @property
    def thread_id(self) -> str:
        return str(self.thread["id"])

    def assistant_text(self) -> str:
        """The text of the last finished assistant message."""
        messages = self.done_items("assistant_message")
        assert messages, f"no finished assistant message in {self.types()}"
        return "".join(part["text"] for part in messages[-1]["content"])

    def deltas(self) -> str:
        """Every text delta streamed, joined."""
        return "".join(
            event["update"]["delta"]
            for event in self.of_type("thread.item.updated")
            if event["update"]["type"] == "assistant_message.content_part.text_delta"
        )


def user_input(text: str, attachments: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A ``UserMessageInput`` as chatkit-js sends it (attachments and options always present)."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "quoted_text": "",
        "attachments": attachments or [],
        "inference_options": {},
        **extra,
    }


class ChatKitClient:
    """One browser's view of kithost: a client secret and the conversation endpoint."""

    def __init__(
        self,
        base_url: str,
        client_secret: str | None,
        session: dict[str, Any] | None = None,
        timeout: float = 60.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.client_secret = client_secret
        # The ``chatkit.session`` the secret came from, when the client was made from one.
        self.session: dict[str, Any] = session or {}
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    @property
    def user(self) -> str:
        return str(self.session["user"])

    def __enter__(self) -> ChatKitClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self.client_secret is not None:
            headers["Authorization"] = f"Bearer {self.client_secret}"
        return headers

    # raw requests

    def post_raw(self, content: bytes, content_type: str = "application/json") -> httpx.Response:
        """POST any bytes to the conversation endpoint; the whole answer is read."""
        return self.http.post(
            CONVERSATION_PATH,
            content=content,
            headers=self.headers(**{"Content-Type": content_type}),
        )

    def request(self, kind: str, /, **params: Any) -> httpx.Response:
        """A non-streaming request (its JSON answer, or an error envelope)."""
        return self.post_raw(json.dumps({"type": kind, "params": params}).encode())

    def json(self, kind: str, /, **params: Any) -> Any:
        """A non-streaming request that must succeed; its JSON body."""
        response = self.request(kind, **params)
        assert response.status_code == 200, (kind, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def stream(
        self,
        kind: str,
        /,
        stop_when: Callable[[Event], bool] | None = None,
        **params: Any,
    ) -> StreamResult:
        """A streaming request, read to its end, or abandoned once ``stop_when(event)`` is true."""
        body = json.dumps({"type": kind, "params": params}).encode()
        headers = self.headers(
            **{"Content-Type": "application/json", "Accept": "text/event-stream"}
        )
        with self.http.stream("POST", CONVERSATION_PATH, content=body, headers=headers) as response:
            result = StreamResult(response.status_code, response.headers)
            is_sse = response.headers.get("content-type", "").startswith("text/event-stream")
            if response.status_code != 200 or not is_sse:
                # An error envelope, or the JSON answer of a non-streaming request type.
                response.read()
                result.raw = response.content
                result.body = response.json()
                return result
            for block in self._blocks(response, result):
                result.events.append(_event(block[len("data: ") :]))
                if stop_when is not None and stop_when(result.events[-1]):
                    # Leaving the ``with`` closes the connection mid-body: the UI's Stop.
                    result.ended_early = "stopped"
                    return result
        if result.ended_early is None:
            parse_sse(result.raw)  # the complete body must also parse strictly
        return result

    @staticmethod
    def _blocks(response: httpx.Response, result: StreamResult) -> Iterator[str]:
        """Yield each SSE block as it arrives (a block is text up to a blank line)."""
        pending = b""
        try:
            for chunk in response.iter_raw():
                result.raw += chunk
                pending += chunk
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    text = block.decode("utf-8")
                    if "\n" in text or not text.startswith("data: "):
                        raise SseFramingError(f"unexpected SSE block: {text[:200]!r}")
                    yield text
        except (httpx.RemoteProtocolError, httpx.ReadError):
            result.ended_early = "dropped"
            return
        if pending:
            raise SseFramingError(f"the stream ended inside an event: {pending[:200]!r}")

    # protocol helpers

    def create_thread(self, text: str, attachments: list[str] | None = None) -> StreamResult:
        return self.stream("threads.create", input=user_input(text, attachments))

    def add_message(
        self, thread_id: str, text: str, attachments: list[str] | None = None
    ) -> StreamResult:
        return self.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(text, attachments)
        )

    def get_thread(self, thread_id: str) -> Any:
        return self.json("threads.get_by_id", thread_id=thread_id)

    def list_threads(self, **params: Any) -> Any:
        return self.json("threads.list", **params)

    def list_items(self, thread_id: str, **params: Any) -> Any:
        return self.json("items.list", thread_id=thread_id, **params)

    def create_attachment(self, name: str, size: int, mime_type: str) -> httpx.Response:
        return self.request("attachments.create", name=name, size=size, mime_type=mime_type)

    def upload(self, name: str, data: bytes, mime_type: str) -> httpx.Response:
        """Direct upload: multipart ``file`` to ``/v1/chatkit/files`` with the client secret."""
        return self.http.post(
            FILES_PATH, files={"file": (name, data, mime_type)}, headers=self.headers()
        )


# sessions (control plane, admin key), for any kithost process


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


def create_session(
    base_url: str,
    user: str,
    workflow: str = ECHO,
    state_variables: dict[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """``POST /v1/chatkit/sessions`` on ``base_url``; the ``chatkit.session`` JSON."""
    body: dict[str, Any] = {"user": user, "workflow": {"id": workflow}, **params}
    if state_variables is not None:
        body["workflow"]["state_variables"] = state_variables
    response = httpx.post(
        f"{base_url.rstrip('/')}/v1/chatkit/sessions",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS},
    )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def cancel_session(base_url: str, session_id: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url.rstrip('/')}/v1/chatkit/sessions/{session_id}/cancel",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS},
    )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def wait_until(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class ChatFactory:
    """Makes sessions and their clients on one server, and closes every client at the end.

    Sessions get a generous rate limit unless the test sets one: most tests make many calls.
    """

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._clients: list[ChatKitClient] = []

    def __enter__(self) -> ChatFactory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self._clients:
            client.close()

    def open(
        self,
        user: str | None = None,
        workflow: str = ECHO,
        state_variables: dict[str, Any] | None = None,
        **params: Any,
    ) -> ChatKitClient:
        """A new session for ``user`` (a fresh user by default) and a client using it."""
        params.setdefault("rate_limits", {"max_requests_per_1_minute": 1000})
        session = create_session(
            self.base_url, user or unique_user(), workflow, state_variables, **params
        )
        return self.client(session["client_secret"], session)

    def client(self, secret: str | None, session: dict[str, Any] | None = None) -> ChatKitClient:
        client = ChatKitClient(self.base_url, secret, session)
        self._clients.append(client)
        return client
