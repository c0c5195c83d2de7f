"""The ChatKit protocol end to end (chatkit-protocol.md §1-§3): every request type of
openai-chatkit 1.6.5 against a real ``kithost serve``, on SQLite and PostgreSQL.

Most tests use ``wf_kithost_echo``, which streams the user's words back, so every answer is
known in advance.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.store.database import create_engine
from kithost.store.threads import ThreadRepository
from tests.support.chatkit_client import (
    DEMO,
    ChatFactory,
    parse_sse,
    user_input,
)
from tests.support.process import KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message

NO_TEXT_ECHO = "(no text)"  # what the echo workflow answers to a turn without a message


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def error_of(response: Any, status: int) -> dict[str, Any]:
    """Check an error answer: its status and the OpenAI envelope; return the ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of protocol items, for comparing whole conversations."""
    result = []
    for item in items:
        if item["type"] == "user_message":
            text = "".join(part.get("text", "") for part in item["content"])
        elif item["type"] == "assistant_message":
            text = "".join(part["text"] for part in item["content"])
        else:
            text = ""
        result.append((item["type"], text))
    return result


def seeded_thread(
    server: KithostProcess, user: str, extra: list[tuple[str, dict[str, Any]]]
) -> tuple[ThreadRecord, list[ItemRecord]]:
    """A thread owned by ``user``: one user message, then items of the given kinds."""
    now = time.time() - 60
    thread = make_thread(user, created_at=now, title="seeded")
    items = [user_message(thread.id, "seeded question", now + 1)]
    for offset, (kind, fields) in enumerate(extra, start=2):
        items.append(protocol_item(thread.id, kind, now + offset, **fields))
    seed(server.database_url, [(thread, items)])
    return thread, items


def stored_feedback(database_url: str, thread_id: str) -> dict[str, str]:
    """The verdicts kithost stored for a thread's items, read through its storage layer."""

    async def run() -> dict[str, str]:
        engine = create_engine(database_url)
        try:
            return await ThreadRepository(engine).feedback(thread_id)
        finally:
            await engine.dispose()

    return asyncio.run(run())


# threads.create: framing and the order of events


def test_threads_create_streams_sse_in_the_sdk_order(chat: ChatFactory) -> None:
    client = chat.open()
    result = client.create_thread("Plan a trip to Lisbon")

    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"  # proxies must not buffer the stream
    # One `data: <json>` line per event, a blank line after each; no event:, id: or retry:.
    assert parse_sse(result.raw) == result.events
    for line in result.raw.decode().split("\n"):
        assert line == "" or line.startswith("data: {"), line

    types = result.types()
    assert types[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert types[3] == "thread.item.added"
    assert types[-2:] == ["thread.item.done", "thread.updated"]
    updates = [e["update"]["type"] for e in result.of_type("thread.item.updated")]
    assert updates[0] == "assistant_message.content_part.added"
    assert updates[-1] == "assistant_message.content_part.done"
    assert set(updates[1:-1]) == {"assistant_message.content_part.text_delta"}
    assert len(updates[1:-1]) == 5  # one delta per word
    assert types == [
        "thread.created",
        "thread.item.done",
        "stream_options",
        "thread.item.added",
        *["thread.item.updated"] * len(updates),
        "thread.item.done",
        "thread.updated",
    ]

    thread = result.thread
    assert thread["status"] == {"type": "active"}
    assert thread["items"] == {"data": [], "has_more": False}
    assert "title" not in thread  # None fields are left out, as the SDK serialises
    assert result.events[2]["stream_options"] == {"allow_cancel": True}

    user_item = result.events[1]["item"]
    assert user_item["type"] == "user_message"
    assert user_item["content"] == [{"type": "input_text", "text": "Plan a trip to Lisbon"}]
    assert user_item["thread_id"] == thread["id"]
    assistant = result.events[3]["item"]
    assert assistant["type"] == "assistant_message"
    assert assistant["content"] == []
    assert result.done_items("assistant_message")[0]["id"] == assistant["id"]
    assert result.assistant_text() == "Plan a trip to Lisbon"
    assert result.deltas() == "Plan a trip to Lisbon"
    assert user_item["id"] != assistant["id"]

    updated = result.events[-1]["thread"]
    assert updated["id"] == thread["id"]
    assert updated["title"] == "Plan a trip to Lisbon"


def test_demo_workflow_streams_progress_tasks_a_reply_and_a_widget(
    chat: ChatFactory, admin: openai.OpenAI
) -> None:
    client = chat.open(workflow=DEMO)
    result = client.create_thread("What can you do?")
    assert result.status_code == 200
    kinds = [(e["type"], e.get("item", {}).get("type")) for e in result.events]
    progress = kinds.index(("progress_update", None))
    workflow_added = kinds.index(("thread.item.added", "workflow"))
    workflow_done = kinds.index(("thread.item.done", "workflow"))
    assistant_added = kinds.index(("thread.item.added", "assistant_message"))
    widget_done = kinds.index(("thread.item.done", "widget"))
    assert kinds[2] == ("stream_options", None)
    assert progress < workflow_added < workflow_done < assistant_added < widget_done
    assert "What can you do?" in result.assistant_text()
    widget = result.events[widget_done]["item"]["widget"]
    assert widget["type"] == "Card"
    button = widget["children"][-1]
    assert button["type"] == "Button"
    assert button["onClickAction"]["type"] == "kithost.demo.more"

    items = admin.beta.chatkit.threads.list_items(result.thread_id, order="asc").data
    assert [item.type for item in items] == [
        "chatkit.user_message",
        "chatkit.task_group",
        "chatkit.assistant_message",
        "chatkit.widget",
    ]
    assert json.loads(items[-1].model_dump()["widget"]) == widget

    # The card's button comes back as an action: a notice, then an answer in the same thread.
    widget_id = result.events[widget_done]["item"]["id"]
    action = client.stream(
        "threads.custom_action",
        thread_id=result.thread_id,
        item_id=widget_id,
        action={"type": "kithost.demo.more", "payload": {"words": 4}},
    )
    assert action.status_code == 200
    assert action.of_type("notice")[0]["level"] == "info"
    assert "OpenAI's hosted ChatKit API" in action.assistant_text()
    items = admin.beta.chatkit.threads.list_items(result.thread_id, order="asc").data
    assert [item.type for item in items][-1] == "chatkit.assistant_message"


def test_a_multi_turn_conversation(chat: ChatFactory) -> None:
    client = chat.open()
    first = client.create_thread("one fish")
    thread_id = first.thread_id
    second = client.add_message(thread_id, "two fish")
    third = client.add_message(thread_id, "red fish blue fish")

    for turn, text in ((second, "two fish"), (third, "red fish blue fish")):
        assert turn.status_code == 200
        assert turn.types()[:2] == ["thread.item.done", "stream_options"]
        assert not turn.of_type("thread.created")
        # The title came with the first exchange; later turns leave it alone.
        assert not turn.of_type("thread.updated")
        assert turn.events[0]["item"]["thread_id"] == thread_id
        assert turn.assistant_text() == text

    conversation = [
        ("user_message", "one fish"),
        ("assistant_message", "one fish"),
        ("user_message", "two fish"),
        ("assistant_message", "two fish"),
        ("user_message", "red fish blue fish"),
        ("assistant_message", "red fish blue fish"),
    ]
    assert texts(client.list_items(thread_id, order="asc")["data"]) == conversation
    # items.list is newest first by default.
    assert texts(client.list_items(thread_id)["data"]) == conversation[::-1]
    thread = client.get_thread(thread_id)
    assert thread["title"] == "one fish"
    assert texts(thread["items"]["data"]) == conversation


def test_a_thread_made_over_the_protocol_is_visible_through_rest(
    chat: ChatFactory, admin: openai.OpenAI
) -> None:
    client = chat.open()
    result = client.create_thread("Hello REST")
    thread_id = result.thread_id

    thread = admin.beta.chatkit.threads.retrieve(thread_id)
    assert thread.id == thread_id
    assert thread.user == client.user
    assert thread.title == "Hello REST"
    assert thread.status.type == "active"

    items = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data
    assert [item.type for item in items] == ["chatkit.user_message", "chatkit.assistant_message"]
    user_item, assistant_item = items
    assert user_item.id == result.done_items("user_message")[0]["id"]
    assert user_item.model_dump()["content"] == [{"type": "input_text", "text": "Hello REST"}]
    assert assistant_item.id == result.done_items("assistant_message")[0]["id"]
    assert assistant_item.model_dump()["content"][0]["text"] == "Hello REST"

    listed = admin.beta.chatkit.threads.list(user=client.user).data
    assert [t.id for t in listed] == [thread_id]


# threads.add_client_tool_output


def test_client_tool_output_without_a_pending_call_is_a_400(chat: ChatFactory) -> None:
    """The SDK raises ValueError inside the stream (a 200 then a dropped connection); kithost
    refuses it before the stream starts."""
    client = chat.open()
    thread_id = client.create_thread("no tools here").thread_id
    result = client.stream("threads.add_client_tool_output", thread_id=thread_id, result={"a": 1})
    assert result.status_code == 400
    assert result.body["error"]["code"] == "no_pending_tool_call"
    assert result.body["error"]["param"] == "params.thread_id"
    assert len(client.list_items(thread_id)["data"]) == 2  # nothing was added


def test_client_tool_output_completes_a_pending_call(
    chat: ChatFactory, server: KithostProcess, admin: openai.OpenAI
) -> None:
    client = chat.open()
    call = {"status": "pending", "call_id": "call_1", "name": "get_weather"}
    thread, items = seeded_thread(
        server, client.user, [("client_tool_call", {**call, "arguments": {"city": "Paris"}})]
    )
    result = client.stream(
        "threads.add_client_tool_output", thread_id=thread.id, result={"forecast": "sunny"}
    )
    assert result.status_code == 200
    assert result.ended_early is None
    assert result.types()[0] == "stream_options"
    assert not result.of_type("error")
    # The workflow is asked to continue with no new user message.
    assert result.assistant_text() == NO_TEXT_ECHO

    stored = client.list_items(thread.id, order="asc")["data"]
    tool_call = stored[1]
    assert tool_call["id"] == items[1].id
    assert tool_call["status"] == "completed"
    assert tool_call["output"] == {"forecast": "sunny"}
    assert [item["type"] for item in stored] == [
        "user_message",
        "client_tool_call",
        "assistant_message",
    ]
    rest = admin.beta.chatkit.threads.list_items(thread.id, order="asc").data[1]
    assert rest.type == "chatkit.client_tool_call"
    assert rest.model_dump()["status"] == "completed"
    assert rest.model_dump()["output"] == '{"forecast": "sunny"}'

    # Now nothing is pending any more.
    again = client.stream("threads.add_client_tool_output", thread_id=thread.id, result=1)
    assert again.status_code == 400


# threads.retry_after_item


def test_retry_after_item_replaces_everything_after_that_message(chat: ChatFactory) -> None:
    client = chat.open()
    first = client.create_thread("first question")
    thread_id = first.thread_id
    client.add_message(thread_id, "second question")
    first_user = first.done_items("user_message")[0]["id"]
    first_answer = first.done_items("assistant_message")[0]["id"]

    retry = client.stream("threads.retry_after_item", thread_id=thread_id, item_id=first_user)
    assert retry.status_code == 200
    assert retry.types()[0] == "stream_options"
    assert retry.assistant_text() == "first question"
    new_answer = retry.done_items("assistant_message")[0]["id"]
    assert new_answer != first_answer

    stored = client.list_items(thread_id, order="asc")["data"]
    assert [item["id"] for item in stored] == [first_user, new_answer]
    assert texts(stored) == [
        ("user_message", "first question"),
        ("assistant_message", "first question"),
    ]


def test_retry_after_an_unknown_or_non_user_item_is_refused(chat: ChatFactory) -> None:
    client = chat.open()
    result = client.create_thread("retry me")
    thread_id = result.thread_id
    answer = result.done_items("assistant_message")[0]["id"]

    unknown = client.stream("threads.retry_after_item", thread_id=thread_id, item_id="cti_nope")
    assert unknown.status_code == 404
    assert unknown.body["error"]["param"] == "params.item_id"
    not_user = client.stream("threads.retry_after_item", thread_id=thread_id, item_id=answer)
    assert not_user.status_code == 400
    assert not_user.body["error"]["code"] == "invalid_item"
    assert len(client.list_items(thread_id)["data"]) == 2


# threads.custom_action and threads.sync_custom_action

ACTION = {"type": "confirm", "payload": {"answer": 42}}
WIDGET = {"widget": {"type": "Card", "children": [{"type": "Text", "value": "Confirm?"}]}}


def test_custom_action_on_a_workflow_without_handler_is_an_error_event(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open()
    thread, items = seeded_thread(server, client.user, [("widget", WIDGET)])

    for item_id in (None, items[1].id):  # with and without a sending widget
        params: dict[str, Any] = {"thread_id": thread.id, "action": ACTION}
        if item_id:
            params["item_id"] = item_id
        result = client.stream("threads.custom_action", **params)
        assert result.status_code == 200
        assert result.types() == ["stream_options", "error"]
        error = result.events[1]
        assert error["code"] == "custom"
        assert error["allow_retry"] is False
        assert "widget actions" in error["message"]

    # A sender that is not a widget is refused before the stream starts, as the sync kind is.
    user_item = items[0].id
    result = client.stream(
        "threads.custom_action", thread_id=thread.id, item_id=user_item, action=ACTION
    )
    assert result.status_code == 400
    assert result.body["error"]["code"] == "invalid_item"
    assert result.body["error"]["param"] == "params.item_id"

    # An unknown sender is refused before the stream starts.
    unknown = client.stream(
        "threads.custom_action", thread_id=thread.id, item_id="cti_nope", action=ACTION
    )
    assert unknown.status_code == 404
    assert unknown.body["error"]["param"] == "params.item_id"
    assert len(client.list_items(thread.id)["data"]) == 2


def test_sync_custom_action(chat: ChatFactory, server: KithostProcess) -> None:
    client = chat.open()
    thread, items = seeded_thread(server, client.user, [("widget", WIDGET)])

    for extra in ({}, {"item_id": items[1].id}):
        response = client.request(
            "threads.sync_custom_action", thread_id=thread.id, action=ACTION, **extra
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        # No handler, so no item to update (None fields are left out, as the SDK does).
        assert response.json().get("updated_item") is None

    not_widget = client.request(
        "threads.sync_custom_action", thread_id=thread.id, item_id=items[0].id, action=ACTION
    )
    error = error_of(not_widget, 400)
    assert (error["param"], error["code"]) == ("params.item_id", "invalid_item")
    assert error["message"] == f"Item '{items[0].id}' is not a widget (it is a user_message)."
    unknown = client.request(
        "threads.sync_custom_action", thread_id=thread.id, item_id="cti_nope", action=ACTION
    )
    assert error_of(unknown, 404)["param"] == "params.item_id"


# threads.add_structured_input

QUESTIONS = [
    {
        "type": "multiple_choice",
        "id": "colour",
        "question": "Which colour?",
        "options": [{"value": "red"}, {"value": "blue"}],
    },
    {"type": "freeform", "id": "why", "question": "Why?"},
]


def test_structured_input_answers_a_pending_item(chat: ChatFactory, server: KithostProcess) -> None:
    client = chat.open()
    thread, items = seeded_thread(
        server, client.user, [("structured_input", {"status": "pending", "inputs": QUESTIONS})]
    )
    item_id = items[1].id
    answers = {"colour": {"values": ["blue", "red"]}, "why": {"values": ["it is calm"]}}
    result = client.stream(
        "threads.add_structured_input",
        thread_id=thread.id,
        item_id=item_id,
        input={"status": "answered", "answers": answers},
    )
    assert result.status_code == 200
    assert result.types()[:2] == ["stream_options", "thread.item.replaced"]
    replaced = result.events[1]["item"]
    assert replaced["id"] == item_id
    assert replaced["status"] == "answered"
    # A single-choice question keeps only the first value.
    assert [q["answer"]["values"] for q in replaced["inputs"]] == [["blue"], ["it is calm"]]
    assert result.assistant_text() == NO_TEXT_ECHO

    stored = {item["id"]: item for item in client.list_items(thread.id)["data"]}
    assert stored[item_id]["status"] == "answered"
    assert stored[item_id]["inputs"][0]["answer"]["values"] == ["blue"]

    again = client.stream(
        "threads.add_structured_input",
        thread_id=thread.id,
        item_id=item_id,
        input={"status": "skipped", "answers": {}},
    )
    assert again.status_code == 400
    assert again.body["error"]["code"] == "item_not_pending"


def test_structured_input_for_a_missing_or_wrong_item_is_refused(chat: ChatFactory) -> None:
    client = chat.open()
    result = client.create_thread("no questions")
    thread_id = result.thread_id
    submission = {"status": "answered", "answers": {}}

    missing = client.stream(
        "threads.add_structured_input", thread_id=thread_id, item_id="cti_nope", input=submission
    )
    assert missing.status_code == 404
    assert missing.body["error"]["param"] == "params.item_id"
    user_item = result.done_items("user_message")[0]["id"]
    wrong = client.stream(
        "threads.add_structured_input", thread_id=thread_id, item_id=user_item, input=submission
    )
    assert wrong.status_code == 400
    assert wrong.body["error"]["code"] == "invalid_item"
    assert len(client.list_items(thread_id)["data"]) == 2


# non-streaming requests


def test_threads_get_by_id(chat: ChatFactory) -> None:
    client = chat.open()
    result = client.create_thread("get me")
    thread = client.get_thread(result.thread_id)
    assert thread["id"] == result.thread_id
    assert thread["title"] == "get me"
    assert thread["status"] == {"type": "active"}
    assert thread["items"]["has_more"] is False
    assert [item["id"] for item in thread["items"]["data"]] == [
        result.done_items("user_message")[0]["id"],
        result.done_items("assistant_message")[0]["id"],
    ]
    missing = client.request("threads.get_by_id", thread_id="cthr_" + "0" * 48)
    assert error_of(missing, 404)["param"] == "params.thread_id"


def test_threads_list_pages_the_users_threads(chat: ChatFactory) -> None:
    client = chat.open()
    ids = [client.create_thread(f"thread {n}").thread_id for n in range(3)]

    everything = client.list_threads()
    assert [t["id"] for t in everything["data"]] == ids[::-1]  # newest first
    assert everything["has_more"] is False
    assert [t["title"] for t in everything["data"]] == ["thread 2", "thread 1", "thread 0"]
    assert all(t["items"] == {"data": [], "has_more": False} for t in everything["data"])

    page = client.list_threads(limit=2)
    assert [t["id"] for t in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True
    assert page["after"] == ids[1]
    rest = client.list_threads(limit=2, after=page["after"])
    assert [t["id"] for t in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False

    ascending = client.list_threads(order="asc", limit=2)
    assert [t["id"] for t in ascending["data"]] == ids[:2]


def test_items_list_pages_and_orders(chat: ChatFactory) -> None:
    client = chat.open()
    thread_id = client.create_thread("alpha").thread_id
    client.add_message(thread_id, "beta")
    newest_first = client.list_items(thread_id)["data"]
    assert texts(newest_first) == [
        ("assistant_message", "beta"),
        ("user_message", "beta"),
        ("assistant_message", "alpha"),
        ("user_message", "alpha"),
    ]
    page = client.list_items(thread_id, limit=3)
    assert [item["id"] for item in page["data"]] == [item["id"] for item in newest_first[:3]]
    assert page["has_more"] is True
    last = client.list_items(thread_id, limit=3, after=page["after"])
    assert [item["id"] for item in last["data"]] == [newest_first[3]["id"]]
    assert last["has_more"] is False
    ascending = client.list_items(thread_id, order="asc", limit=2)
    assert [item["id"] for item in ascending["data"]] == [
        newest_first[3]["id"],
        newest_first[2]["id"],
    ]
    missing = client.request("items.list", thread_id="cthr_" + "0" * 48)
    assert error_of(missing, 404)["param"] == "params.thread_id"


def test_items_feedback_is_recorded(chat: ChatFactory, server: KithostProcess) -> None:
    client = chat.open()
    result = client.create_thread("rate me")
    thread_id = result.thread_id
    answer = result.done_items("assistant_message")[0]["id"]

    assert (
        client.json("items.feedback", thread_id=thread_id, item_ids=[answer], kind="positive") == {}
    )
    assert stored_feedback(server.database_url, thread_id) == {answer: "positive"}
    # The latest verdict wins; ids that are not in the thread are ignored.
    client.json("items.feedback", thread_id=thread_id, item_ids=[answer, "cti_x"], kind="negative")
    assert stored_feedback(server.database_url, thread_id) == {answer: "negative"}

    missing = client.request(
        "items.feedback", thread_id="cthr_" + "0" * 48, item_ids=[answer], kind="positive"
    )
    assert error_of(missing, 404)["param"] == "params.thread_id"


def test_threads_update_renames(chat: ChatFactory, admin: openai.OpenAI) -> None:
    client = chat.open()
    thread_id = client.create_thread("old name").thread_id
    updated = client.json("threads.update", thread_id=thread_id, title="New name")
    assert updated["id"] == thread_id
    assert updated["title"] == "New name"
    assert updated["items"] == {"data": [], "has_more": False}
    assert client.get_thread(thread_id)["title"] == "New name"
    assert admin.beta.chatkit.threads.retrieve(thread_id).title == "New name"
    missing = client.request("threads.update", thread_id="cthr_" + "0" * 48, title="x")
    assert error_of(missing, 404)["param"] == "params.thread_id"


def test_threads_delete(chat: ChatFactory, admin: openai.OpenAI) -> None:
    client = chat.open()
    doomed = client.create_thread("delete me").thread_id
    kept = client.create_thread("keep me").thread_id

    assert client.json("threads.delete", thread_id=doomed) == {}
    assert error_of(client.request("threads.get_by_id", thread_id=doomed), 404)
    assert error_of(client.request("items.list", thread_id=doomed), 404)
    assert error_of(client.request("threads.delete", thread_id=doomed), 404)
    with pytest.raises(openai.NotFoundError):
        admin.beta.chatkit.threads.retrieve(doomed)
    assert [t["id"] for t in client.list_threads()["data"]] == [kept]
    assert len(client.list_items(kept)["data"]) == 2


def test_input_transcribe_is_unsupported(chat: ChatFactory) -> None:
    client = chat.open()
    response = client.request("input.transcribe", audio_base64="AAAA", mime_type="audio/webm")
    error = error_of(response, 400)
    assert error["code"] == "unsupported_request"
    assert "input.transcribe" in error["message"]


def test_attachments_create_and_delete(chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True}})
    created = client.create_attachment("notes.txt", 12, "text/plain")
    assert created.status_code == 200, created.text
    attachment = created.json()
    assert attachment["type"] == "file"
    assert attachment["name"] == "notes.txt"
    assert attachment["mime_type"] == "text/plain"
    assert attachment["upload_descriptor"]["method"] == "POST"
    assert client.json("attachments.delete", attachment_id=attachment["id"]) == {}
    again = client.request("attachments.delete", attachment_id=attachment["id"])
    assert error_of(again, 404)["param"] == "params.attachment_id"


def test_every_request_type_is_answered(chat: ChatFactory, server: KithostProcess) -> None:
    """One pass over all sixteen request types, each getting a protocol answer (no 5xx and no
    dropped stream), on one thread that ends up deleted."""
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True}})
    created = client.create_thread("everything")
    thread_id = created.thread_id
    user_item = created.done_items("user_message")[0]["id"]
    attachment = client.create_attachment("a.txt", 1, "text/plain").json()
    requests: list[tuple[str, dict[str, Any]]] = [
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("more")}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": None}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": user_item, "input": {}},
        ),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item}),
        ("threads.custom_action", {"thread_id": thread_id, "action": ACTION}),
        ("threads.sync_custom_action", {"thread_id": thread_id, "action": ACTION}),
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.list", {}),
        ("items.list", {"thread_id": thread_id}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": [user_item], "kind": "positive"}),
        ("attachments.create", {"name": "b.txt", "size": 1, "mime_type": "text/plain"}),
        ("attachments.delete", {"attachment_id": attachment["id"]}),
        ("threads.update", {"thread_id": thread_id, "title": "renamed"}),
        ("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/ogg"}),
        ("threads.delete", {"thread_id": thread_id}),
    ]
    assert len({kind for kind, _ in requests} | {"threads.create"}) == 16
    for kind, params in requests:
        result = client.stream(kind, **params)
        assert result.status_code in (200, 400), (kind, result.status_code, result.body)
        assert result.ended_early is None, kind
        if result.status_code == 200 and result.headers["content-type"].startswith(
            "text/event-stream"
        ):
            assert result.events, kind
    assert error_of(client.request("threads.get_by_id", thread_id=thread_id), 404)


def test_sessions_of_one_user_share_threads(chat: ChatFactory) -> None:
    """Threads belong to the user, not the session: a new secret picks the thread up again."""
    first = chat.open()
    thread_id = first.create_thread("carry on").thread_id
    second = chat.open(user=first.user)
    assert [t["id"] for t in second.list_threads()["data"]] == [thread_id]
    assert second.add_message(thread_id, "carried on").assistant_text() == "carried on"
