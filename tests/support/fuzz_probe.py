"""Send one fuzzed ChatKit request to ``/v1/chatkit/conversation`` and check what became of it.

Whatever the body: never a 5xx, never a hang, an error in the OpenAI envelope, a 200 stream
with at least one event and a clean end. And nothing accepted is lost: after a 200 answer to
``threads.create`` or ``threads.add_user_message``, the user's message is in the thread, as sent.
The ``Known`` ids are kept current on the way (new threads and items in, deleted ones out).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.chatkit_client import CONVERSATION_PATH, Event, parse_sse
from tests.support.fuzz import ClientSecrets, Tally
from tests.support.fuzz_protocol import Body, Known

# No answer byte for this long is a hang; nor is an answer still streaming after DEADLINE.
READ_TIMEOUT = 30.0
DEADLINE = 120.0
# Fewer threads than this (the fuzzer deletes some) and a new one is made.
MIN_THREADS = 2
ACCEPTED_INPUT = ("threads.create", "threads.add_user_message")


@dataclass
class Answer:
    status: int
    content_type: str
    raw: bytes
    events: list[Event] = field(default_factory=list)

    @property
    def is_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    def json(self) -> Any:
        return json.loads(self.raw)

    def __repr__(self) -> str:
        return f"Answer({self.status} {self.content_type}: {self.raw[:400]!r})"


class ProtocolProbe:
    def __init__(self, base_url: str, secrets: ClientSecrets, known: Known, tally: Tally):
        self.secrets = secrets
        self.known = known
        self.tally = tally
        self.http = httpx.Client(base_url=base_url, timeout=READ_TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def send(self, data: bytes) -> Answer:
        """POST ``data``; the whole answer, read within the hang limits."""
        headers = {
            "Authorization": f"Bearer {self.secrets.current()}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        started = time.monotonic()
        chunks = bytearray()
        try:
            with self.http.stream("POST", CONVERSATION_PATH, content=data, headers=headers) as r:
                for chunk in r.iter_raw():
                    chunks += chunk
                    elapsed = time.monotonic() - started
                    assert elapsed < DEADLINE, f"still streaming after {elapsed:.0f} s (a hang)"
        except httpx.TimeoutException:
            raise AssertionError(f"no answer byte for {READ_TIMEOUT:.0f} s (a hang)") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as error:
            raise AssertionError(f"the connection broke: {error!r}") from None
        answer = Answer(r.status_code, r.headers.get("content-type", ""), bytes(chunks))
        self.tally.count(answer.status)
        return answer

    def check(self, body: Body) -> Answer:
        """Send ``body`` and check everything kithost must do with it."""
        try:
            return self._check(body)
        except (ValueError, KeyError, TypeError) as error:  # JSON or events not as they should be
            raise AssertionError(f"a malformed answer for {body!r}: {error!r}") from error

    def _check(self, body: Body) -> Answer:
        answer = self.send(body.data)
        assert answer.status < 500, f"a server error for {body!r}: {answer!r}"
        if answer.status != 200:
            check_envelope(answer)
        elif answer.is_stream:
            answer.events = parse_sse(answer.raw)
            assert answer.events, f"a 200 stream without an event for {body!r}"
            broken = [e for e in answer.events if e["type"] == "error" and _unexpected(e)]
            assert not broken, f"a server error inside a 200 stream for {body!r}: {answer!r}"
            self.keep_ids(answer)
            if body.kind in ACCEPTED_INPUT:
                self.check_kept(body, answer)
        else:
            assert answer.content_type.startswith("application/json"), answer
            self.forget_ids(body, answer.json())
        while len(self.known.threads) < MIN_THREADS:
            self.new_thread()
        return answer

    def new_thread(self) -> None:
        text = {"type": "input_text", "text": "a thread to fuzz"}
        params = {"input": {"content": [text], "attachments": [], "inference_options": {}}}
        created = self.send(encode_request("threads.create", params))
        assert created.status == 200, created
        created.events = parse_sse(created.raw)
        self.keep_ids(created)

    def keep_ids(self, answer: Answer) -> None:
        for event in answer.events:
            if event["type"] == "thread.created":
                self.known.add_thread(event["thread"]["id"])
            elif event["type"] == "thread.item.done":
                self.known.add_item(event["item"]["thread_id"], event["item"]["id"])

    def forget_ids(self, body: Body, result: Any) -> None:
        params = body.params
        if body.kind == "threads.delete" and isinstance(params.get("thread_id"), str):
            self.known.forget_thread(params["thread_id"])
        elif body.kind == "attachments.delete" and isinstance(params.get("attachment_id"), str):
            self.known.forget_attachment(params["attachment_id"])
        elif body.kind == "attachments.create" and isinstance(result, dict):
            self.known.add_attachment(result["id"])

    def check_kept(self, body: Body, answer: Answer) -> None:
        """The user's message of an accepted turn is in its thread, with the text sent."""
        messages = [
            event["item"]
            for event in answer.events
            if event["type"] == "thread.item.done" and event["item"]["type"] == "user_message"
        ]
        assert len(messages) == 1, f"an accepted {body.kind} without its message: {answer!r}"
        message = messages[0]
        stored = self.find_item(message["thread_id"], message["id"])
        assert stored is not None, f"the accepted message {message['id']} is not in its thread"
        sent = body.params["input"]["content"]
        assert _texts(stored["content"]) == _texts(sent), (stored, sent)

    def find_item(self, thread_id: str, item_id: str) -> dict[str, Any] | None:
        """The item, looked up through ``items.list`` (newest first) as a client would."""
        after = None
        while True:
            params: dict[str, Any] = {"thread_id": thread_id, "limit": 100, "order": "desc"}
            if after:
                params["after"] = after
            page = self.send(encode_request("items.list", params))
            assert page.status == 200, page
            listing = page.json()
            for item in listing["data"]:
                if item["id"] == item_id:
                    found: dict[str, Any] = item
                    return found
            if not listing["has_more"]:
                return None
            after = listing["after"]


def encode_request(kind: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "params": params}).encode()


def check_envelope(answer: Answer) -> None:
    """An error answer is the OpenAI envelope with a message."""
    assert answer.content_type.startswith("application/json"), answer
    error = answer.json().get("error")
    assert isinstance(error, dict), answer
    assert set(error) == {"message", "type", "param", "code"}, answer
    assert isinstance(error["message"], str), answer
    assert error["message"], answer


def _unexpected(event: Event) -> bool:
    """``stream.error``: what the ChatKit SDK streams when something raised inside it (a 500
    once the 200 is sent), as opposed to a ``custom`` error a workflow chose to report."""
    return event.get("code") == "stream.error"


def _texts(content: Any) -> list[tuple[Any, Any]]:
    return [(part.get("type"), part.get("text")) for part in content if isinstance(part, dict)]
