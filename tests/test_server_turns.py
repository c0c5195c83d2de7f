"""Server-side turns (issue 16): the app's backend starts, continues, annotates and updates a
user's conversation with an admin key, and the user finds it in their chat.

``POST /v1/chatkit/threads`` and ``…/{thread_id}/messages`` in their three modes (at once,
``wait``, ``stream``), notices (``…/items``), updates (``POST``/``PATCH …/{thread_id}``), who may
call them, how bad bodies are refused, Stop through the runs endpoint, and the per-key limit; on
SQLite and PostgreSQL. The echo workflow answers without a model; its state variables set the
pace (``BRISK`` ends about a second in, ``SLOW`` is mid-answer until someone stops it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import httpx
import openai
import pytest

from tests.support.chatkit_client import (
    BETA_HEADERS,
    ECHO,
    ChatFactory,
    ChatKitClient,
    create_session,
    unique_user,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.runs_client import (
    RUN_ID_HEADER,
    RunsClient,
    SseEvent,
    SseReader,
    deltas,
    joined,
    nth_delta,
)

THREADS_PATH = "/v1/chatkit/threads"
THREAD_ID_HEADER = "X-Kithost-Thread-Id"
WORDS = "alpha beta gamma"
BRISK = {"delay_ms": 10, "repeat": 40}
SLOW = {"delay_ms": 30, "repeat": 500}
NO_SUCH_THREAD = "cthr_" + "0" * 48
SECOND_KEY = "sk-kh-test-second-key-0123456789abcdefghijklmnopqrstu"
SDK_OPTIONS: Any = {"headers": BETA_HEADERS}
CARD = {"type": "Card", "children": [{"type": "Text", "value": "Your parcel left the depot."}]}


def answer_of(state: dict[str, int] | None) -> str:
    return " ".join([WORDS] * (state or {}).get("repeat", 1))


def message_input(text: str, **extra: Any) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], **extra}


def workflow(state: dict[str, int] | None = None) -> dict[str, Any]:
    return {"id": ECHO} if state is None else {"id": ECHO, "state_variables": state}


# the app's backend


class Backend(RunsClient):
    """The app's backend: an admin key on the server-side turn paths and the run paths."""

    def __init__(self, base_url: str, key: str = ADMIN_KEY):
        super().__init__(base_url, key)

    def start(self, user: str, text: str = WORDS, **fields: Any) -> httpx.Response:
        """``POST /v1/chatkit/threads``; ``fields`` beside ``user`` and ``input``."""
        fields.setdefault("workflow", workflow())
        body = {"user": user, "input": message_input(text), **fields}
        return self.http.post(THREADS_PATH, json=body, headers=self.headers())

    def message(self, thread_id: str, user: str, text: str, **fields: Any) -> httpx.Response:
        body = {"user": user, "input": message_input(text), **fields}
        path = f"{THREADS_PATH}/{thread_id}/messages"
        return self.http.post(path, json=body, headers=self.headers())

    def turn(self, response: httpx.Response) -> dict[str, Any]:
        """A turn's answer, which must be a 201 ``chatkit.turn`` with the run's headers."""
        assert response.status_code == 201, response.text
        turn: dict[str, Any] = response.json()
        assert turn["object"] == "chatkit.turn"
        assert response.headers[RUN_ID_HEADER] == turn["run"]["id"]
        assert response.headers[THREAD_ID_HEADER] == turn["thread"]["id"]
        self.run_ids.append(turn["run"]["id"])
        return turn

    @contextmanager
    def streamed(self, path: str, body: dict[str, Any]) -> Iterator[SseReader]:
        """A turn with ``stream: true``, open; leaving the block hangs up."""
        headers = self.headers(Accept="text/event-stream")
        body = {**body, "stream": True}
        with self.http.stream("POST", path, json=body, headers=headers) as response:
            yield SseReader(response)

    def notice(self, thread_id: str, body: Any) -> httpx.Response:
        return self.http.post(
            f"{THREADS_PATH}/{thread_id}/items", json=body, headers=self.headers()
        )

    def update(self, thread_id: str, body: Any, method: str = "POST") -> httpx.Response:
        path = f"{THREADS_PATH}/{thread_id}"
        return self.http.request(method, path, json=body, headers=self.headers())

    def retrieve(self, thread_id: str) -> dict[str, Any]:
        response = self.http.get(f"{THREADS_PATH}/{thread_id}", headers=self.headers())
        assert response.status_code == 200, response.text
        thread: dict[str, Any] = response.json()
        return thread

    def items(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's REST items, oldest first."""
        path = f"{THREADS_PATH}/{thread_id}/items"
        response = self.http.get(path, params={"order": "asc"}, headers=self.headers())
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["data"]
        return items

    def threads_of(self, user: str) -> list[dict[str, Any]]:
        response = self.http.get(THREADS_PATH, params={"user": user}, headers=self.headers())
        assert response.status_code == 200, response.text
        threads: list[dict[str, Any]] = response.json()["data"]
        return threads

    def ended(self, run_id: str) -> dict[str, Any]:
        """The run once it is no longer in progress."""
        run: dict[str, Any] = wait_until(
            lambda: (found := self.run(run_id))["status"] != "in_progress" and found
        )
        return run


@pytest.fixture
def app(server: KithostProcess) -> Iterator[Backend]:
    backend = Backend(server.url)
    yield backend
    backend.close()


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


# reading results


def error_of(response: httpx.Response | SseReader) -> dict[str, Any]:
    body = response.body if isinstance(response, SseReader) else response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["type"] == "invalid_request_error"
    return error


def refused(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    """An OpenAI-style error envelope of ``status`` naming ``param``."""
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["param"] == param, error
    return error


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of items, REST or protocol."""
    return [
        (item["type"], "".join(part.get("text", "") for part in item.get("content", [])))
        for item in items
    ]


def user_item(thread_id: str, text: str) -> dict[str, Any]:
    """A user message in its REST form, but for its id and time."""
    return {
        "object": "chatkit.thread_item",
        "thread_id": thread_id,
        "type": "chatkit.user_message",
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {"model": None, "tool_choice": None},
    }


def answer_item(thread_id: str, text: str) -> dict[str, Any]:
    return {
        "object": "chatkit.thread_item",
        "thread_id": thread_id,
        "type": "chatkit.assistant_message",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def without_id(item: dict[str, Any]) -> dict[str, Any]:
    assert item["id"].startswith("cti_")
    assert isinstance(item["created_at"], int)
    return {key: value for key, value in item.items() if key not in ("id", "created_at")}


def protocol_texts(client: ChatKitClient, thread_id: str) -> list[tuple[str, str]]:
    return texts(client.list_items(thread_id, order="asc")["data"])


def seqs(events: list[SseEvent]) -> list[int | None]:
    return [event.seq for event in events]


def finished_thread(app: Backend, user: str, **fields: Any) -> dict[str, Any]:
    """A thread of ``user`` whose first turn has ended (the instant echo, with ``wait``)."""
    turn = app.turn(app.start(user, wait=True, **fields))
    assert turn["run"]["status"] == "completed"
    thread: dict[str, Any] = turn["thread"]
    return thread


# 1. a server-side turn in the user's chat


def test_a_server_side_turn_appears_in_the_users_chat_and_continues_there(
    admin: openai.OpenAI, app: Backend, chat: ChatFactory
) -> None:
    user = unique_user()
    title = "Your order has shipped"
    metadata = {"order": "A-1001", "source": "shipping"}
    body = {
        "user": user,
        "workflow": workflow(BRISK),
        "input": message_input(WORDS),
        "title": title,
        "metadata": metadata,
    }
    response = admin.post(
        "/chatkit/threads", body=body, cast_to=httpx.Response, options=SDK_OPTIONS
    )
    assert response.status_code == 201, response.text
    turn = response.json()
    assert set(turn) == {"object", "thread", "run", "items"}
    assert turn["object"] == "chatkit.turn"
    thread, run = turn["thread"], turn["run"]
    thread_id = thread["id"]
    assert thread_id.startswith("cthr_")
    assert thread == {
        "id": thread_id,
        "object": "chatkit.thread",
        "created_at": thread["created_at"],
        "title": title,
        "status": {"type": "active"},
        "user": user,
        "metadata": metadata,
        "workflow_id": ECHO,
    }
    assert (response.headers[THREAD_ID_HEADER], response.headers[RUN_ID_HEADER]) == (
        thread_id,
        run["id"],
    )
    assert run["object"] == "chatkit.run"
    assert (run["thread_id"], run["user"], run["workflow"]["id"]) == (thread_id, user, ECHO)
    assert run["request_type"] == "threads.create"
    assert run["status"] in ("in_progress", "completed")
    # Answered once the user's message is saved: that message comes first.
    assert without_id(turn["items"][0]) == user_item(thread_id, WORDS)

    def ended() -> Any:
        found = admin.get(f"/chatkit/runs/{run['id']}", cast_to=object, options=SDK_OPTIONS)
        assert isinstance(found, dict)
        return found["status"] != "in_progress" and found

    finished = wait_until(ended)
    assert finished["status"] == "completed"
    assert finished["ended_at"] is not None

    # The user's next session lists the thread and opens it, answer included.
    client = chat.open(user=user)
    listed = client.list_threads(order="desc")["data"]
    assert [(t["id"], t["title"], t["status"]) for t in listed] == [
        (thread_id, title, {"type": "active"})
    ]
    opened = client.get_thread(thread_id)
    assert opened["title"] == title
    assert texts(opened["items"]["data"]) == [
        ("user_message", WORDS),
        ("assistant_message", answer_of(BRISK)),
    ]
    assert protocol_texts(client, thread_id) == texts(opened["items"]["data"])
    # Another user's session does not see it.
    stranger = chat.open()
    assert stranger.list_threads()["data"] == []
    assert stranger.request("items.list", thread_id=thread_id).status_code == 404

    # The user carries on in the chat, and the answer arrives there.
    continued = client.add_message(thread_id, "and the invoice")
    assert continued.status_code == 200
    assert continued.ended_early is None
    assert continued.assistant_text() == "and the invoice"
    rest_items = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data
    assert texts([item.model_dump() for item in rest_items]) == [
        ("chatkit.user_message", WORDS),
        ("chatkit.assistant_message", answer_of(BRISK)),
        ("chatkit.user_message", "and the invoice"),
        ("chatkit.assistant_message", "and the invoice"),
    ]
    listed_by_rest = admin.beta.chatkit.threads.list(user=user).data
    assert [(t.id, t.title) for t in listed_by_rest] == [(thread_id, title)]

    # ... and the backend after the user: the thread kept its title and metadata.
    follow_up = admin.post(
        f"/chatkit/threads/{thread_id}/messages",
        body={"user": user, "input": message_input("thanks"), "wait": True},
        cast_to=object,
        options=SDK_OPTIONS,
    )
    assert isinstance(follow_up, dict)
    assert follow_up["thread"] == thread
    assert texts(follow_up["items"]) == [
        ("chatkit.user_message", "thanks"),
        ("chatkit.assistant_message", "thanks"),
    ]
    assert protocol_texts(client, thread_id)[-2:] == [
        ("user_message", "thanks"),
        ("assistant_message", "thanks"),
    ]


# 2. wait and stream


def test_wait_answers_once_the_run_ended_with_the_turns_items(app: Backend) -> None:
    user = unique_user()
    turn = app.turn(app.start(user, workflow=workflow(BRISK), wait=True))
    thread_id, run = turn["thread"]["id"], turn["run"]
    assert run["status"] == "completed"
    assert run["ended_at"] is not None
    assert run["last_event_id"] > 0
    assert app.run(run["id"]) == run
    assert [without_id(item) for item in turn["items"]] == [
        user_item(thread_id, WORDS),
        answer_item(thread_id, answer_of(BRISK)),
    ]
    assert app.items(thread_id) == turn["items"]
    # Untitled: the thread is titled from the first message, as a browser's would be.
    assert wait_until(lambda: app.retrieve(thread_id)["title"]) == WORDS

    # A follow-up's items are only its own.
    again = app.turn(app.message(thread_id, user, "once more", wait=True))
    assert again["run"]["status"] == "completed"
    assert [without_id(item) for item in again["items"]] == [
        user_item(thread_id, "once more"),
        answer_item(thread_id, "once more"),
    ]
    assert app.items(thread_id) == turn["items"] + again["items"]


def test_stream_answers_the_runs_events_from_thread_created_to_the_answer(
    app: Backend, server: KithostProcess
) -> None:
    user = unique_user()
    body = {
        "user": user,
        "workflow": workflow(BRISK),
        "input": message_input(WORDS),
        "title": "Streamed",
    }
    with app.streamed(THREADS_PATH, body) as stream:
        assert stream.status_code == 200, stream.body
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = stream.rest()
    run_id, thread_id = stream.headers[RUN_ID_HEADER], stream.headers[THREAD_ID_HEADER]
    assert seqs(events) == list(range(1, len(events) + 1))
    first = events[0].event
    assert first["type"] == "thread.created"
    assert (first["thread"]["id"], first["thread"]["title"]) == (thread_id, "Streamed")
    assert events[1].type == "thread.item.done"
    assert texts([events[1].event["item"]]) == [("user_message", WORDS)]
    done = [event.event["item"] for event in events if event.type == "thread.item.done"]
    assert texts(done) == [("user_message", WORDS), ("assistant_message", answer_of(BRISK))]
    assert deltas(events) == answer_of(BRISK)

    run = app.run(run_id)
    assert (run["status"], run["thread_id"], run["user"]) == ("completed", thread_id, user)
    assert run["request_type"] == "threads.create"
    assert run["last_event_id"] == len(events)
    # The run's events endpoint replays the very bytes, for the backend and for the user.
    replay = app.follow_all(run_id)
    assert replay.status_code == 200
    assert replay.raw == joined(events)
    session = create_session(server.url, user)
    with closing(RunsClient(server.url, session["client_secret"], session)) as users_view:
        assert users_view.follow_all(run_id).raw == joined(events)
    assert texts(app.items(thread_id)) == [
        ("chatkit.user_message", WORDS),
        ("chatkit.assistant_message", answer_of(BRISK)),
    ]

    # A follow-up streams too, without thread.created.
    follow_up = {"user": user, "input": message_input("more")}
    with app.streamed(f"{THREADS_PATH}/{thread_id}/messages", follow_up) as stream:
        assert stream.status_code == 200, stream.body
        events = stream.rest()
    assert stream.headers[THREAD_ID_HEADER] == thread_id
    assert seqs(events) == list(range(1, len(events) + 1))
    assert "thread.created" not in [event.type for event in events]
    assert deltas(events) == "more"
    assert app.follow_all(stream.headers[RUN_ID_HEADER]).raw == joined(events)


# 3. /messages


def test_messages_continue_the_users_thread_with_its_workflow(app: Backend) -> None:
    user = unique_user()
    thread = finished_thread(app, user, title="Ticket 7")
    thread_id = thread["id"]

    # No workflow given: the thread's own.
    turn = app.turn(app.message(thread_id, user, "next", wait=True))
    run = turn["run"]
    assert (run["workflow"]["id"], run["request_type"]) == (ECHO, "threads.add_user_message")
    assert run["status"] == "completed"
    assert turn["thread"] == thread
    assert texts(turn["items"]) == [
        ("chatkit.user_message", "next"),
        ("chatkit.assistant_message", "next"),
    ]
    # The thread's workflow with other state variables.
    paced = app.turn(
        app.message(thread_id, user, WORDS, workflow={"state_variables": BRISK}, wait=True)
    )
    assert paced["run"]["workflow"]["id"] == ECHO
    assert texts(paced["items"])[-1] == ("chatkit.assistant_message", answer_of(BRISK))

    # Another user's thread, or none: the same 404.
    stranger = refused(app.message(thread_id, unique_user(), "mine?"), 404, "thread_id")
    assert stranger["message"] == f"No thread found with id '{thread_id}'."
    unknown = refused(app.message(NO_SUCH_THREAD, user, "hello"), 404, "thread_id")
    assert unknown["message"] == f"No thread found with id '{NO_SUCH_THREAD}'."
    assert len(app.items(thread_id)) == 6


def test_messages_refuse_a_busy_a_locked_and_a_closed_thread(
    app: Backend, chat: ChatFactory
) -> None:
    user = unique_user()
    thread_id = finished_thread(app, user)["id"]
    busy = app.turn(app.message(thread_id, user, WORDS, workflow={"state_variables": SLOW}))
    run_id = busy["run"]["id"]
    # At once: the user's message is saved, the answer is still coming.
    assert busy["run"]["status"] == "in_progress"
    assert [without_id(item) for item in busy["items"]] == [user_item(thread_id, WORDS)]
    try:
        too_soon = app.message(thread_id, user, "too soon")
        error = refused(too_soon, 409, "thread_id")
        assert error["code"] == "run_in_progress"
        # The official SDKs retry a 409 unless told not to: a retry would not help.
        assert too_soon.headers["x-should-retry"] == "false"
        assert run_id in error["message"]
        with app.streamed(
            f"{THREADS_PATH}/{thread_id}/messages",
            {"user": user, "input": message_input("too soon")},
        ) as stream:
            assert stream.status_code == 409
            assert error_of(stream)["code"] == "run_in_progress"
        # The user's chat sees the same busy thread.
        in_chat = chat.open(user=user).add_message(thread_id, "too soon")
        assert in_chat.status_code == 409
        assert in_chat.body["error"]["code"] == "run_in_progress"
    finally:
        cancelled = app.cancel(run_id)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert "too soon" not in [text for _, text in texts(app.items(thread_id))]

    for status in ("locked", "closed"):
        assert app.update(thread_id, {"status": status}).status_code == 200
        error = refused(app.message(thread_id, user, "hello?"), 400, "thread_id")
        assert error["code"] == f"thread_{status}"
        assert status in error["message"]
    assert app.update(thread_id, {"status": "active"}).status_code == 200
    reopened = app.turn(app.message(thread_id, user, "open again", wait=True))
    assert texts(reopened["items"])[-1] == ("chatkit.assistant_message", "open again")


# 4. notices


def test_notices_appear_in_rest_and_in_the_users_chat_without_a_run(
    app: Backend, chat: ChatFactory
) -> None:
    user = unique_user()
    thread_id = finished_thread(app, user)["id"]
    runs_before = app.thread_runs(thread_id).json()["data"]

    text_notice = {
        "type": "assistant_message",
        "content": [{"type": "output_text", "text": "Your parcel is out for delivery."}],
    }
    response = app.notice(thread_id, text_notice)
    assert response.status_code == 200, response.text
    notice = response.json()
    assert without_id(notice) == answer_item(thread_id, "Your parcel is out for delivery.")
    rest_spelling = {**text_notice, "type": "chatkit.assistant_message"}
    rest_spelling["content"] = [{"type": "output_text", "text": "Signed for."}]
    second = app.notice(thread_id, rest_spelling)
    assert second.status_code == 200, second.text
    assert second.json()["type"] == "chatkit.assistant_message"

    widget = app.notice(thread_id, {"type": "widget", "widget": CARD, "copy_text": "Left depot"})
    assert widget.status_code == 200, widget.text
    widget_item = widget.json()
    assert widget_item["type"] == "chatkit.widget"
    assert widget_item["thread_id"] == thread_id
    assert json.loads(widget_item["widget"]) == CARD
    widget_rest = {"type": "chatkit.widget", "widget": {"type": "Card", "children": []}}
    plain = app.notice(thread_id, widget_rest)
    assert plain.status_code == 200, plain.text

    # REST: in order after the turn's items.
    items = app.items(thread_id)
    assert items[2:] == [notice, second.json(), widget_item, plain.json()]
    assert [item["type"] for item in items] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
        "chatkit.assistant_message",
        "chatkit.assistant_message",
        "chatkit.widget",
        "chatkit.widget",
    ]
    # The protocol: what the chat shows the next time it loads the thread.
    client = chat.open(user=user)
    shown = client.list_items(thread_id, order="asc")["data"]
    assert [item["id"] for item in shown] == [item["id"] for item in items]
    assert texts(shown[2:4]) == [
        ("assistant_message", "Your parcel is out for delivery."),
        ("assistant_message", "Signed for."),
    ]
    assert (shown[4]["type"], shown[4]["widget"], shown[4]["copy_text"]) == (
        "widget",
        CARD,
        "Left depot",
    )
    # No run was started for them.
    assert app.thread_runs(thread_id).json()["data"] == runs_before


BAD_NOTICES: list[tuple[Any, str]] = [
    ({"type": "widget", "widget": {"type": "Nope"}}, "widget"),
    ({"type": "widget", "widget": {"type": "Card", "children": [{"oops": 1}]}}, "widget"),
    ({"type": "widget"}, "widget"),
    ({"type": "widget", "widget": CARD, "copy_text": 5}, "copy_text"),
    ({"type": "message", "content": [{"type": "output_text", "text": "x"}]}, "type"),
    ({"content": [{"type": "output_text", "text": "x"}]}, "type"),
    ({"type": "assistant_message", "content": []}, "content"),
    ({"type": "assistant_message", "content": "x"}, "content"),
    (
        {"type": "assistant_message", "content": [{"type": "input_text", "text": "x"}]},
        "content[0].type",
    ),
    ({"type": "assistant_message", "content": [{"type": "output_text"}]}, "content[0].text"),
    ({"type": "assistant_message", "content": [{"type": "output_text", "text": "x"}], "x": 1}, "x"),
    (["assistant_message"], "type"),
]


def names(error: dict[str, Any], param: str) -> bool:
    """Whether the error names ``param`` or a field inside it."""
    named = str(error["param"])
    return named == param or named.startswith((f"{param}.", f"{param}["))


def test_a_bad_notice_is_a_400_and_adds_nothing(app: Backend) -> None:
    thread_id = finished_thread(app, unique_user())["id"]
    for body, param in BAD_NOTICES:
        response = app.notice(thread_id, body)
        assert response.status_code == 400, (body, response.text)
        assert names(error_of(response), param), (body, response.text)
    assert len(app.items(thread_id)) == 2


def test_a_notice_needs_an_existing_thread(app: Backend) -> None:
    notice = {"type": "assistant_message", "content": [{"type": "output_text", "text": "hi"}]}
    assert refused(app.notice(NO_SUCH_THREAD, notice), 404, "thread_id")["message"] == (
        f"No thread found with id '{NO_SUCH_THREAD}'."
    )
    assert refused(app.notice("thread-1", notice), 400, "thread_id")["code"] == "invalid_value"


# 5. updates


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_changes_title_status_and_metadata(
    app: Backend, chat: ChatFactory, method: str
) -> None:
    user = unique_user()
    thread = finished_thread(app, user, title="Order A-1", metadata={"order": "A-1", "x": "1"})
    thread_id = thread["id"]
    client = chat.open(user=user)

    change = {
        "title": "Order A-1 (resolved)",
        "status": {"type": "locked", "reason": "Resolved by support."},
        "metadata": {"resolution": "refund"},
    }
    response = app.update(thread_id, change, method)
    assert response.status_code == 200, response.text
    expected = {
        **thread,
        "title": "Order A-1 (resolved)",
        "status": {"type": "locked", "reason": "Resolved by support."},
        "metadata": {"resolution": "refund"},  # replaced, not merged
    }
    assert response.json() == expected
    assert app.retrieve(thread_id) == {
        key: value for key, value in expected.items() if key not in ("metadata", "workflow_id")
    }
    opened = client.get_thread(thread_id)
    assert (opened["title"], opened["status"]) == (
        "Order A-1 (resolved)",
        {"type": "locked", "reason": "Resolved by support."},
    )
    assert client.list_threads()["data"][0]["status"]["type"] == "locked"

    # What the body leaves out stays; null clears the title; active has no reason.
    response = app.update(thread_id, {"title": None, "status": "active"}, method)
    assert response.status_code == 200, response.text
    assert response.json() == {
        **expected,
        "title": None,
        "status": {"type": "active"},
    }
    opened = client.get_thread(thread_id)
    assert (opened.get("title"), opened["status"]) == (None, {"type": "active"})

    closed = app.update(thread_id, {"status": "closed"}, method).json()
    assert closed["status"] == {"type": "closed", "reason": None}
    assert closed["metadata"] == {"resolution": "refund"}
    assert app.update(thread_id, {}, method).json() == closed
    cleared = app.update(thread_id, {"metadata": {}}, method).json()
    assert cleared == {**closed, "metadata": {}}
    assert client.get_thread(thread_id)["status"] == {"type": "closed"}


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_refuses_what_it_cannot_apply(app: Backend, method: str) -> None:
    thread = finished_thread(app, unique_user(), title="Kept")
    thread_id = thread["id"]
    missing = refused(app.update(NO_SUCH_THREAD, {"title": "x"}, method), 404, "thread_id")
    assert missing["message"] == f"No thread found with id '{NO_SUCH_THREAD}'."
    assert refused(app.update("nope", {"title": "x"}, method), 400, "thread_id")
    for body, param in [
        ({"status": "archived"}, "status"),
        ({"status": {"type": "locked", "reason": 7}}, "status"),
        ({"title": ""}, "title"),
        ({"title": "x" * 513}, "title"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": "tags"}, "metadata"),
        ({"name": "x"}, "name"),
    ]:
        response = app.update(thread_id, body, method)
        assert response.status_code == 400, (body, response.text)
        assert names(error_of(response), param), (body, response.text)
    not_json = app.http.request(
        method,
        f"{THREADS_PATH}/{thread_id}",
        content=b"{title",
        headers=app.headers(**{"Content-Type": "application/json"}),
    )
    assert not_json.status_code == 400, not_json.text
    assert app.retrieve(thread_id) == {
        key: value for key, value in thread.items() if key not in ("metadata", "workflow_id")
    }


# 6. who may call


def test_only_an_admin_key_with_the_beta_header_may_call(
    app: Backend, server: KithostProcess
) -> None:
    user = unique_user()
    thread_id = finished_thread(app, user, title="Kept")["id"]
    secret = create_session(server.url, user)["client_secret"]
    assert secret.startswith("ek_")
    notice = {"type": "assistant_message", "content": [{"type": "output_text", "text": "x"}]}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", THREADS_PATH, {"user": user, "workflow": workflow(), "input": message_input("x")}),
        (
            "POST",
            f"{THREADS_PATH}/{thread_id}/messages",
            {"user": user, "input": message_input("x")},
        ),
        ("POST", f"{THREADS_PATH}/{thread_id}/items", notice),
        ("POST", f"{THREADS_PATH}/{thread_id}", {"title": "x"}),
        ("PATCH", f"{THREADS_PATH}/{thread_id}", {"title": "x"}),
    ]
    credentials: list[tuple[dict[str, str], int]] = [
        ({"Authorization": f"Bearer {secret}", **BETA_HEADERS}, 401),
        ({"Authorization": "Bearer sk-kh-not-a-key", **BETA_HEADERS}, 401),
        (BETA_HEADERS, 401),
        ({"Authorization": f"Bearer {ADMIN_KEY}"}, 400),
    ]
    for method, path, body in calls:
        for headers, status in credentials:
            response = httpx.request(method, f"{server.url}{path}", json=body, headers=headers)
            assert response.status_code == status, (method, path, headers, response.text)
            error_of(response)
            if status == 400:
                assert response.json()["error"]["code"] == "invalid_beta"
    # Nothing of it happened.
    assert app.threads_of(user) == [app.retrieve(thread_id)]
    assert len(app.items(thread_id)) == 2
    assert app.retrieve(thread_id)["title"] == "Kept"


# 7. validation


START_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no-user", {"user": None}, "user"),
    ("empty-user", {"user": ""}, "user"),
    ("no-workflow", {"workflow": None}, "workflow"),
    ("workflow-not-an-object", {"workflow": "wf_kithost_echo"}, "workflow"),
    ("no-input", {"input": None}, "input"),
    ("empty-content", {"input": {"content": []}}, "input.content"),
    ("unknown-part", {"input": {"content": [{"type": "image", "url": "x"}]}}, "input.content[0]"),
    ("many-pairs", {"metadata": {f"key{i}": "v" for i in range(17)}}, "metadata"),
    ("long-value", {"metadata": {"k": "v" * 513}}, "metadata.k"),
    ("long-key", {"metadata": {"k" * 65: "v"}}, "metadata"),
    ("number-value", {"metadata": {"k": 1}}, "metadata.k"),
    ("stream-and-wait", {"stream": True, "wait": True}, "wait"),
    ("wait-not-bool", {"wait": "yes"}, "wait"),
    ("empty-title", {"title": ""}, "title"),
    ("unknown-field", {"thread_id": NO_SUCH_THREAD}, "thread_id"),
]


@pytest.mark.parametrize(
    ("change", "param"),
    [case[1:] for case in START_CASES],
    ids=[case[0] for case in START_CASES],
)
def test_a_bad_new_thread_is_a_clear_400_and_leaves_nothing(
    app: Backend, change: dict[str, Any], param: str
) -> None:
    user = unique_user()
    body: dict[str, Any] = {"user": user, "workflow": workflow(), "input": message_input(WORDS)}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    response = app.http.post(THREADS_PATH, json=body, headers=app.headers())
    error = refused(response, 400, param)
    assert error["message"]
    assert RUN_ID_HEADER not in response.headers
    assert app.threads_of(user) == []
    if change.get("stream") is not True:  # the same refusal as a stream asked for
        with app.streamed(THREADS_PATH, body) as stream:
            assert stream.status_code == 400
            assert error_of(stream) == error


def test_an_unknown_workflow_is_refused_as_sessions_create_refuses_it(
    app: Backend, server: KithostProcess
) -> None:
    user = unique_user()
    unknown = {"id": "wf_" + "0" * 48}
    as_session = app.http.post(
        "/v1/chatkit/sessions", json={"user": user, "workflow": unknown}, headers=app.headers()
    )
    assert as_session.status_code == 404
    response = app.start(user, workflow=unknown)
    assert response.status_code == 404
    assert response.json() == as_session.json()
    thread_id = finished_thread(app, user)["id"]
    follow_up = app.message(thread_id, user, "x", workflow=unknown)
    assert follow_up.status_code == 404
    assert follow_up.json() == as_session.json()
    assert [thread["id"] for thread in app.threads_of(user)] == [thread_id]


def test_bad_bodies_and_ids_on_messages_are_400s(app: Backend) -> None:
    user = unique_user()
    thread_id = finished_thread(app, user)["id"]
    path = f"{THREADS_PATH}/{thread_id}/messages"
    for body, param in [
        ({"input": message_input("x")}, "user"),
        ({"user": user}, "input"),
        ({"user": user, "input": {"content": []}}, "input.content"),
        ({"user": user, "input": message_input("x"), "stream": True, "wait": True}, "wait"),
        ({"user": user, "input": message_input("x"), "workflow": "echo"}, "workflow"),
        ({"user": user, "input": message_input("x"), "title": "x"}, "title"),
    ]:
        refused(app.http.post(path, json=body, headers=app.headers()), 400, param)
    for body in (b"", b"[1]", b"{user"):
        response = app.http.post(
            path, content=body, headers=app.headers(**{"Content-Type": "application/json"})
        )
        assert response.status_code == 400, (body, response.text)
        error_of(response)
    for bad_id in ("thread_1", "cth_1", "cthr_" + "0" * 300):
        refused(app.message(bad_id, user, "x"), 400, "thread_id")
    assert len(app.items(thread_id)) == 2


def test_the_users_uploads_can_be_attached_once_each(app: Backend, chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True, "max_files": 2}})
    uploads = {"file_upload": {"enabled": True, "max_files": 1}}  # the turns' sessions
    user = client.user

    def upload(name: str) -> str:
        response = client.upload(name, b"order A-1001", "text/plain")
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    receipt, other = upload("receipt.txt"), upload("other.txt")
    # The same file twice is one attachment, within the session's max_files.
    turn = app.turn(
        app.start(
            user,
            wait=True,
            input=message_input("see attached", attachments=[receipt, receipt]),
            chatkit_configuration=uploads,
        )
    )
    attached = turn["items"][0]["attachments"]
    assert [(a["id"], a["name"], a["mime_type"], a["type"]) for a in attached] == [
        (receipt, "receipt.txt", "text/plain", "file")
    ]
    assert app.items(turn["thread"]["id"])[0] == turn["items"][0]

    # More than the session allows, named as in this body; no thread is left behind.
    too_many = app.start(
        user,
        input=message_input("two", attachments=[receipt, other]),
        chatkit_configuration=uploads,
    )
    error = refused(too_many, 400, "input.attachments")
    assert error["message"].startswith("Invalid 'input.attachments'")
    # Someone else's file, or none, is not found.
    stranger = unique_user()
    for owner, file_id in ((stranger, receipt), (user, "cfile_" + "0" * 48)):
        response = app.start(
            owner,
            input=message_input("x", attachments=[file_id]),
            chatkit_configuration=uploads,
        )
        assert response.status_code == 404, response.text
        assert error_of(response)["message"] == f"No attachment found with id '{file_id}'."
    assert app.threads_of(stranger) == []
    assert [thread["id"] for thread in app.threads_of(user)] == [turn["thread"]["id"]]


# 8. cancel


def test_hanging_up_a_stream_leaves_the_run_and_cancel_stops_it(
    app: Backend, chat: ChatFactory
) -> None:
    user = unique_user()
    body = {"user": user, "workflow": workflow(SLOW), "input": message_input(WORDS)}
    with app.streamed(THREADS_PATH, body) as stream:
        seen = stream.take_until(nth_delta(3))
    run_id, thread_id = stream.headers[RUN_ID_HEADER], stream.headers[THREAD_ID_HEADER]
    # Detached: the answer goes on after the backend hung up.
    with app.follow(run_id, after=len(seen)) as resumed:
        later = resumed.take_until(nth_delta(20))
        assert seqs(later) == list(range(len(seen) + 1, len(seen) + 1 + len(later)))
        cancelled = app.cancel(run_id)
        resumed.rest()  # the stream ends with the run
    assert cancelled.status_code == 200, cancelled.text
    run = cancelled.json()
    assert (run["id"], run["status"], run["user"]) == (run_id, "cancelled", user)
    assert run["ended_at"] is not None
    assert app.run(run_id) == run
    assert app.cancel(run_id).json() == run

    # The partial answer is kept, in REST and in the user's chat.
    seen_text = deltas(seen + later)
    rest = texts(app.items(thread_id))
    assert [kind for kind, _ in rest] == ["chatkit.user_message", "chatkit.assistant_message"]
    partial = rest[-1][1]
    assert partial.startswith(seen_text)
    assert answer_of(SLOW).startswith(partial)
    assert len(partial) < len(answer_of(SLOW))
    assert protocol_texts(chat.open(user=user), thread_id)[-1] == ("assistant_message", partial)
    assert app.follow_all(run_id).raw.startswith(joined(seen + later))


def test_cancel_stops_a_run_started_at_once(app: Backend) -> None:
    user = unique_user()
    turn = app.turn(app.start(user, workflow=workflow(SLOW)))
    run_id, thread_id = turn["run"]["id"], turn["thread"]["id"]
    assert turn["run"]["status"] == "in_progress"
    with app.follow(run_id) as live:
        seen = live.take_until(nth_delta(5))
        cancelled = app.cancel(run_id)
        live.rest()
    assert cancelled.json()["status"] == "cancelled"
    assert app.ended(run_id)["status"] == "cancelled"
    assert texts(app.items(thread_id))[-1][1].startswith(deltas(seen))


# 9. the per-key limit


@pytest.fixture(scope="module")
def limited(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    """Two admin keys, each allowed two server-side turns a minute."""
    workdir = tmp_path_factory.mktemp("server-turns-limited")
    env = {
        "KITHOST_SERVER_TURNS_PER_MINUTE": "2",
        "KITHOST_API_KEYS": f"{ADMIN_KEY},{SECOND_KEY}",
    }
    with fresh_database(backend, workdir) as url:
        process = KithostProcess(url, workdir, env).start()
        try:
            yield process
        finally:
            process.stop()


def test_the_per_key_limit_refuses_the_third_turn_with_retry_after(
    limited: KithostProcess,
) -> None:
    user = unique_user()
    with closing(Backend(limited.url)) as app, closing(Backend(limited.url, SECOND_KEY)) as other:
        thread_id = app.turn(app.start(user, wait=True))["thread"]["id"]
        app.turn(app.message(thread_id, user, "second", wait=True))
        for response in (app.start(user), app.message(thread_id, user, "third")):
            assert response.status_code == 429, response.text
            error = response.json()["error"]
            assert error["type"] == "rate_limit_exceeded"
            assert "2 requests per minute" in error["message"]
            assert 0 < int(response.headers["Retry-After"]) <= 60
        assert [thread["id"] for thread in app.threads_of(user)] == [thread_id]
        assert len(app.items(thread_id)) == 4
        # Notices and updates are not turns.
        notice = {"type": "assistant_message", "content": [{"type": "output_text", "text": "x"}]}
        assert app.notice(thread_id, notice).status_code == 200
        assert app.update(thread_id, {"title": "still"}).status_code == 200
        # Per key: another key has its own two.
        assert other.turn(other.message(thread_id, user, "other key", wait=True))
        # The user's own chat is not the backend's limit.
        session = create_session(limited.url, user)
        with ChatKitClient(limited.url, session["client_secret"], session) as client:
            assert client.add_message(thread_id, "from the chat").assistant_text() == (
                "from the chat"
            )
