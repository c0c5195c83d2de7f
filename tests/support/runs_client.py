"""A client for runs (issue 14): SSE read event by event with its raw bytes and ``id:`` lines.

Resuming is about bytes, so the reader keeps every event's exact bytes (the ``id: <seq>`` line
included) and can pause mid-stream: read some events, do something else (cancel the run, resume
it elsewhere), then read on or hang up. The client speaks the conversation endpoint (with or
without ``X-Kithost-Detach``) and the run paths, with a session's client secret or an admin key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from tests.support.chatkit_client import BETA_HEADERS, CONVERSATION_PATH, ChatKitClient

RUNS_PATH = "/v1/chatkit/runs"
RUN_ID_HEADER = "X-Kithost-Run-Id"
DETACH_HEADER = "X-Kithost-Detach"

Event = dict[str, Any]


class SseError(AssertionError):
    """A block that is neither ``data: <json>`` nor ``id: <seq>`` then ``data: <json>``."""


@dataclass(frozen=True)
class SseEvent:
    """One SSE event as sent: ``raw`` is its whole block (``id:`` line and blank line too)."""

    seq: int | None
    raw: bytes

    @property
    def data(self) -> bytes:
        """The ``data: …\\n\\n`` part: the event as a stream without ids carries it."""
        return self.raw[self.raw.index(b"data: ") :]

    @property
    def event(self) -> Event:
        event: Event = json.loads(self.data[len(b"data: ") :])
        return event

    @property
    def type(self) -> str:
        return str(self.event["type"])


def parse_block(block: bytes) -> SseEvent:
    """One block without its blank line: an optional ``id: <seq>`` line, then one data line."""
    lines = block.split(b"\n")
    seq = None
    if len(lines) == 2 and lines[0].startswith(b"id: "):
        value = lines[0][len(b"id: ") :]
        if not value.isdigit():
            raise SseError(f"an id that is not a sequence number: {block[:200]!r}")
        seq = int(value)
        lines = lines[1:]
    if len(lines) != 1 or not lines[0].startswith(b"data: "):
        raise SseError(f"unexpected SSE block: {block[:200]!r}")
    event = SseEvent(seq, block + b"\n\n")
    if not isinstance(event.event, dict) or "type" not in event.event:
        raise SseError(f"an event is not an object with a type: {block[:200]!r}")
    return event


def parse_events(raw: bytes) -> list[SseEvent]:
    """A complete SSE body, strictly."""
    if not raw:
        return []
    if not raw.endswith(b"\n\n"):
        raise SseError(f"the stream does not end with a blank line: {raw[-80:]!r}")
    return [parse_block(block) for block in raw[:-2].split(b"\n\n")]


def joined(events: list[SseEvent]) -> bytes:
    return b"".join(event.raw for event in events)


class SseReader:
    """An open SSE response, read one event at a time; an error answer is read whole."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.events: list[SseEvent] = []
        self.ended = False  # the server finished the body
        self.body: Any = None
        self._chunks = response.iter_raw()
        self._pending = b""
        if not self.is_sse:
            response.read()
            self.body = response.json()
            self.ended = True

    @property
    def is_sse(self) -> bool:
        content_type = self.headers.get("content-type", "")
        return self.status_code == 200 and content_type.startswith("text/event-stream")

    @property
    def run_id(self) -> str:
        return str(self.headers[RUN_ID_HEADER])

    @property
    def raw(self) -> bytes:
        """The bytes of every complete event read so far."""
        return joined(self.events)

    def next(self) -> SseEvent | None:
        """The next event, or None once the server has ended the body."""
        while b"\n\n" not in self._pending:
            if self.ended:
                if self._pending:
                    raise SseError(f"the stream ended inside an event: {self._pending[:200]!r}")
                return None
            try:
                self._pending += next(self._chunks)
            except StopIteration:
                self.ended = True
        block, self._pending = self._pending.split(b"\n\n", 1)
        event = parse_block(block)
        self.events.append(event)
        return event

    def take(self, count: int) -> list[SseEvent]:
        """Exactly ``count`` more events."""
        taken = []
        for _ in range(count):
            event = self.next()
            assert event is not None, f"the stream ended after {len(self.events)} events"
            taken.append(event)
        return taken

    def take_until(self, check: Callable[[SseEvent], bool]) -> list[SseEvent]:
        """Events up to and including the first for which ``check`` holds."""
        taken = []
        while True:
            event = self.next()
            assert event is not None, f"the stream ended after {len(self.events)} events"
            taken.append(event)
            if check(event):
                return taken

    def rest(self) -> list[SseEvent]:
        """Every event until the server ends the body."""
        taken = []
        while (event := self.next()) is not None:
            taken.append(event)
        return taken


def is_delta(event: SseEvent) -> bool:
    update = event.event.get("update", {})
    return bool(update.get("type") == "assistant_message.content_part.text_delta")


def nth_delta(count: int) -> Callable[[SseEvent], bool]:
    """A ``take_until`` check that holds at the ``count``-th text delta."""
    seen = 0

    def check(event: SseEvent) -> bool:
        nonlocal seen
        seen += is_delta(event)
        return seen >= count

    return check


def deltas(events: list[SseEvent]) -> str:
    return "".join(event.event["update"]["delta"] for event in events if is_delta(event))


# Ids (``cthr_…``, ``cti_…``, ``run_…``) and ISO times differ between two runs of one input.
_ID = re.compile(rb"\b[a-z]+_[0-9a-f]{40,}\b")
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")


def normalized(events: list[SseEvent]) -> list[bytes]:
    """Each event's data bytes with ids numbered by first appearance and times blanked."""
    names: dict[bytes, bytes] = {}

    def name(match: re.Match[bytes]) -> bytes:
        return names.setdefault(match.group(0), b"<id%d>" % len(names))

    return [_TIME.sub(b"<time>", _ID.sub(name, event.data)) for event in events]


class RunsClient(ChatKitClient):
    """A ChatKit client (client secret) or the app's backend (admin key) on the run paths.

    ``run_ids`` collects the id of every run this client starts (for cleaning up after).
    """

    def __init__(self, base_url: str, token: str | None, session: dict[str, Any] | None = None):
        super().__init__(base_url, token, session)
        self.run_ids: list[str] = []

    def headers(self, **extra: str) -> dict[str, str]:
        return {**BETA_HEADERS, **super().headers(**extra)}

    @contextmanager
    def converse(
        self, kind: str, /, detach: str | None = None, **params: Any
    ) -> Iterator[SseReader]:
        """A streaming request, open; leaving the block hangs up."""
        headers = self.headers(**{"Accept": "text/event-stream"})
        if detach is not None:
            headers[DETACH_HEADER] = detach
        body = {"type": kind, "params": params}
        with self.http.stream("POST", CONVERSATION_PATH, json=body, headers=headers) as response:
            reader = SseReader(response)
            if RUN_ID_HEADER in response.headers:
                self.run_ids.append(reader.run_id)
            yield reader

    def converse_all(self, kind: str, /, detach: str | None = None, **params: Any) -> SseReader:
        """A streaming request read to its end."""
        with self.converse(kind, detach, **params) as reader:
            reader.rest()
        return reader

    @contextmanager
    def follow(
        self, run_id: str, last_event_id: str | None = None, after: int | None = None
    ) -> Iterator[SseReader]:
        """``GET /runs/{id}/events``, open; leaving the block hangs up (the run goes on)."""
        headers = self.headers(**{"Accept": "text/event-stream"})
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        query = {} if after is None else {"after": after}
        path = f"{RUNS_PATH}/{run_id}/events"
        with self.http.stream("GET", path, params=query, headers=headers) as response:
            yield SseReader(response)

    def follow_all(
        self, run_id: str, last_event_id: str | None = None, after: int | None = None
    ) -> SseReader:
        with self.follow(run_id, last_event_id, after) as reader:
            reader.rest()
        return reader

    def get_run(self, run_id: str) -> httpx.Response:
        return self.http.get(f"{RUNS_PATH}/{run_id}", headers=self.headers())

    def run(self, run_id: str) -> Any:
        """The run object, which must be visible to this caller."""
        response = self.get_run(run_id)
        assert response.status_code == 200, response.text
        return response.json()

    def cancel(self, run_id: str) -> httpx.Response:
        return self.http.post(f"{RUNS_PATH}/{run_id}/cancel", headers=self.headers())

    def thread_runs(self, thread_id: str, **params: Any) -> httpx.Response:
        path = f"/v1/chatkit/threads/{thread_id}/runs"
        return self.http.get(path, params=params, headers=self.headers())


def forget_redis_keys(redis_url: str, markers: list[str]) -> None:
    """Delete the keys (in a Redis database of the tests' own) that name one of ``markers``."""
    with redis.Redis.from_url(redis_url) as store:
        for marker in markers:
            for key in store.scan_iter(match=f"*{marker}*"):
                store.delete(key)
