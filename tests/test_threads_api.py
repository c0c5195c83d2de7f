"""``threads.retrieve``, ``list``, ``delete`` and ``list_items`` through the official Python SDK
(hosted-api.md §3.3-§3.6, §4.2, §4.3). Threads and items are seeded through the storage layer
in the ChatKit protocol's shape; the REST view must render exactly the six item types."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import openai
import pytest
from openai.types.beta.chatkit import (
    ChatKitThread,
    ChatKitThreadAssistantMessageItem,
    ChatKitThreadUserMessageItem,
    ChatKitWidgetItem,
)
from openai.types.beta.chatkit.chatkit_thread_item_list import (
    DataChatKitClientToolCall,
    DataChatKitTask,
    DataChatKitTaskGroup,
)

from kithost.core.threads import ItemRecord, ThreadRecord
from tests.support.process import KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message

REST_TYPES = {
    "chatkit.user_message",
    "chatkit.assistant_message",
    "chatkit.widget",
    "chatkit.client_tool_call",
    "chatkit.task",
    "chatkit.task_group",
}
NO_SUCH_THREAD = "cthr_" + "0" * 48


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


def seed_thread(
    server: KithostProcess, thread: ThreadRecord, items: list[ItemRecord] | None = None
) -> ThreadRecord:
    seed(server.database_url, [(thread, items or [])])
    return thread


def items_raw(client: openai.OpenAI, thread_id: str, **params: Any) -> dict[str, Any]:
    response = client.beta.chatkit.threads.with_raw_response.list_items(thread_id, **params)
    body: dict[str, Any] = response.http_response.json()
    return body


# retrieve


def test_retrieve_renders_the_thread(server: KithostProcess, admin: openai.OpenAI) -> None:
    user = unique_user()
    thread = seed_thread(server, make_thread(user, created_at=1_760_045_115.75, title="Trip"))

    response = admin.beta.chatkit.threads.with_raw_response.retrieve(thread.id)

    assert response.http_response.json() == {
        "id": thread.id,
        "object": "chatkit.thread",
        "created_at": 1_760_045_115,
        "title": "Trip",
        "status": {"type": "active"},
        "user": user,
    }
    assert isinstance(response.parse(), ChatKitThread)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, {"type": "active"}),
        (
            {"status": "locked", "status_reason": "maintenance"},
            {"type": "locked", "reason": "maintenance"},
        ),
        ({"status": "locked"}, {"type": "locked", "reason": None}),
        ({"status": "closed", "status_reason": "done"}, {"type": "closed", "reason": "done"}),
        ({"status": "closed"}, {"type": "closed", "reason": None}),
    ],
)
def test_thread_status_variants(
    server: KithostProcess, admin: openai.OpenAI, fields: dict[str, Any], status: dict[str, Any]
) -> None:
    thread = seed_thread(server, make_thread(unique_user(), **fields))
    raw = admin.beta.chatkit.threads.with_raw_response.retrieve(thread.id).http_response.json()
    assert raw["status"] == status
    assert raw["title"] is None
    assert "title" in raw
    parsed = admin.beta.chatkit.threads.retrieve(thread.id)
    assert parsed.status.type == status["type"]


def test_retrieve_unknown_thread(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        admin.beta.chatkit.threads.retrieve(NO_SUCH_THREAD)
    assert caught.value.param == "thread_id"
    assert caught.value.type == "invalid_request_error"


def test_retrieve_malformed_thread_id(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.retrieve("thread_123")
    assert caught.value.body == {
        "message": "Invalid 'thread_id': 'thread_123'. Expected an ID that begins with 'cthr'.",
        "type": "invalid_request_error",
        "param": "thread_id",
        "code": "invalid_value",
    }


# list


def test_list_filters_by_user_newest_first(server: KithostProcess, admin: openai.OpenAI) -> None:
    user, other = unique_user(), unique_user()
    now = time.time()
    older = make_thread(user, created_at=now - 20)
    newer = make_thread(user, created_at=now - 10)
    foreign = make_thread(other, created_at=now - 15)
    seed(server.database_url, [(older, []), (newer, []), (foreign, [])])

    page = admin.beta.chatkit.threads.list(user=user)

    assert [t.id for t in page.data] == [newer.id, older.id]
    assert all(t.user == user for t in page.data)
    assert page.has_more is False
    assert [t.id for t in admin.beta.chatkit.threads.list(user=other)] == [foreign.id]


def test_list_without_a_user_shows_every_user(server: KithostProcess, admin: openai.OpenAI) -> None:
    workflow_id = f"wf_{uuid.uuid4().hex}"
    mine = make_thread(unique_user(), workflow_id=workflow_id)
    theirs = make_thread(unique_user(), workflow_id=workflow_id)
    seed(server.database_url, [(mine, []), (theirs, [])])

    listed = {t.id for t in admin.beta.chatkit.threads.list(limit=100)}
    assert {mine.id, theirs.id} <= listed


def test_list_filters_by_workflow_id(server: KithostProcess, admin: openai.OpenAI) -> None:
    user = unique_user()
    workflow_a, workflow_b = f"wf_{uuid.uuid4().hex}", f"wf_{uuid.uuid4().hex}"
    in_a = make_thread(user, created_at=time.time() - 2, workflow_id=workflow_a)
    in_b = make_thread(user, created_at=time.time() - 1, workflow_id=workflow_b)
    seed(server.database_url, [(in_a, []), (in_b, [])])

    def listed(**query: str) -> list[str]:
        page = admin.beta.chatkit.threads.list(extra_query=query)
        return [t.id for t in page.data]

    assert listed(workflow_id=workflow_a) == [in_a.id]
    assert listed(workflow_id=workflow_b, user=user) == [in_b.id]
    assert listed(workflow_id=workflow_a, user=unique_user()) == []


def test_list_of_an_unknown_user_is_empty(admin: openai.OpenAI) -> None:
    page = admin.beta.chatkit.threads.list(user=unique_user())
    assert page.data == []
    assert page.has_more is False


# delete


def test_delete_removes_the_thread_and_its_items(
    server: KithostProcess, admin: openai.OpenAI
) -> None:
    user = unique_user()
    doomed = make_thread(user, created_at=time.time() - 2)
    kept = make_thread(user, created_at=time.time() - 1)
    seed(
        server.database_url,
        [
            (doomed, [user_message(doomed.id, "bye", doomed.created_at)]),
            (kept, [user_message(kept.id, "stay", kept.created_at)]),
        ],
    )

    response = admin.beta.chatkit.threads.with_raw_response.delete(doomed.id)

    assert response.http_response.json() == {
        "id": doomed.id,
        "object": "chatkit.thread.deleted",
        "deleted": True,
    }
    with pytest.raises(openai.NotFoundError):
        admin.beta.chatkit.threads.retrieve(doomed.id)
    with pytest.raises(openai.NotFoundError):
        admin.beta.chatkit.threads.list_items(doomed.id)
    assert [t.id for t in admin.beta.chatkit.threads.list(user=user)] == [kept.id]
    assert len(admin.beta.chatkit.threads.list_items(kept.id).data) == 1


def test_second_delete_is_not_found(server: KithostProcess, admin: openai.OpenAI) -> None:
    thread = seed_thread(server, make_thread(unique_user()))
    assert admin.beta.chatkit.threads.delete(thread.id).deleted is True
    with pytest.raises(openai.NotFoundError) as caught:
        admin.beta.chatkit.threads.delete(thread.id)
    assert caught.value.param == "thread_id"


def test_delete_malformed_and_unknown_ids(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as malformed:
        admin.beta.chatkit.threads.delete("cksess_123")
    assert (malformed.value.param, malformed.value.code) == ("thread_id", "invalid_value")
    with pytest.raises(openai.NotFoundError):
        admin.beta.chatkit.threads.delete(NO_SUCH_THREAD)


# list_items: the REST rendering of every protocol item


WIDGET = {
    "type": "Card",
    "children": [{"type": "Text", "value": "Sunny, 21 °C"}, {"type": "Divider"}],
    "size": "md",
}


def protocol_items(thread_id: str, start: float) -> list[tuple[ItemRecord, dict[str, Any] | None]]:
    """Every protocol item kind, each with its expected REST form (None: never shown)."""

    def item(kind: str, **fields: Any) -> ItemRecord:
        return protocol_item(thread_id, kind, start + len(pairs), **fields)

    pairs: list[tuple[ItemRecord, dict[str, Any] | None]] = []

    def add(record: ItemRecord, rest: dict[str, Any] | None) -> None:
        pairs.append((record, rest))

    add(
        item(
            "user_message",
            content=[
                {"type": "input_text", "text": "Compare with "},
                {"type": "input_tag", "id": "tag_1", "text": "@report", "data": {}, "group": None},
            ],
            attachments=[
                {
                    "type": "file",
                    "id": "cfile_1",
                    "name": "report.pdf",
                    "mime_type": "application/pdf",
                    "upload_descriptor": None,
                    "thread_id": thread_id,
                    "metadata": None,
                },
                {
                    "type": "image",
                    "id": "cfile_2",
                    "name": "chart.png",
                    "mime_type": "image/png",
                    "preview_url": "https://files.example/chart.png",
                    "upload_descriptor": None,
                    "thread_id": thread_id,
                    "metadata": None,
                },
            ],
            quoted_text="the quoted passage",
            inference_options={"model": "gpt-5", "tool_choice": {"id": "search"}},
        ),
        {
            "type": "chatkit.user_message",
            "content": [
                {"type": "input_text", "text": "Compare with "},
                {"type": "input_text", "text": "@report"},
                {"type": "quoted_text", "text": "the quoted passage"},
            ],
            "attachments": [
                {
                    "id": "cfile_1",
                    "type": "file",
                    "name": "report.pdf",
                    "mime_type": "application/pdf",
                    "preview_url": None,
                },
                {
                    "id": "cfile_2",
                    "type": "image",
                    "name": "chart.png",
                    "mime_type": "image/png",
                    "preview_url": "https://files.example/chart.png",
                },
            ],
            "inference_options": {"model": "gpt-5", "tool_choice": {"id": "search"}},
        },
    )
    add(
        item(
            "user_message",
            content=[{"type": "input_text", "text": "plain"}],
            attachments=[],
            quoted_text=None,
            inference_options={"tool_choice": None, "model": None},
        ),
        {
            "type": "chatkit.user_message",
            "content": [{"type": "input_text", "text": "plain"}],
            "attachments": [],
            "inference_options": {"model": None, "tool_choice": None},
        },
    )
    add(item("hidden_context_item", content={"secret": "never shown"}), None)
    add(
        item(
            "assistant_message",
            content=[
                {
                    "type": "output_text",
                    "text": "See the sources.",
                    "annotations": [
                        {
                            "type": "annotation",
                            "source": {"type": "url", "url": "https://a.example", "title": "A"},
                            "index": None,
                        },
                        {
                            "type": "annotation",
                            "source": {"type": "file", "filename": "notes.md", "title": "N"},
                            "index": 4,
                        },
                        {
                            "type": "annotation",
                            "source": {"type": "entity", "id": "ent_1", "title": "E", "data": {}},
                            "index": None,
                        },
                    ],
                },
                {"type": "output_text", "text": "Second part.", "annotations": []},
            ],
        ),
        {
            "type": "chatkit.assistant_message",
            "content": [
                {
                    "type": "output_text",
                    "text": "See the sources.",
                    "annotations": [
                        {"type": "url", "source": {"type": "url", "url": "https://a.example"}},
                        {"type": "file", "source": {"type": "file", "filename": "notes.md"}},
                    ],
                },
                {"type": "output_text", "text": "Second part.", "annotations": []},
            ],
        },
    )
    add(
        item("widget", widget=WIDGET, copy_text="Sunny"),
        {"type": "chatkit.widget", "widget": WIDGET},
    )
    add(item("end_of_turn"), None)
    add(
        item(
            "client_tool_call",
            status="pending",
            call_id="call_1",
            name="get_location",
            arguments={"precise": True},
            output=None,
        ),
        {
            "type": "chatkit.client_tool_call",
            "status": "in_progress",
            "call_id": "call_1",
            "name": "get_location",
            "arguments": {"precise": True},
            "output": None,
        },
    )
    add(
        item(
            "client_tool_call",
            status="completed",
            call_id="call_2",
            name="get_weather",
            arguments={"city": "Paris", "days": [1, 2]},
            output={"temperature": 21, "unit": "C"},
        ),
        {
            "type": "chatkit.client_tool_call",
            "status": "completed",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": {"city": "Paris", "days": [1, 2]},
            "output": {"temperature": 21, "unit": "C"},
        },
    )
    add(item("sdk_hidden_context", content="internal"), None)
    add(
        item(
            "task",
            task={"type": "custom", "title": "Searching", "content": "3 results", "icon": None},
        ),
        {
            "type": "chatkit.task",
            "task_type": "custom",
            "heading": "Searching",
            "summary": "3 results",
        },
    )
    add(
        item("task", task={"type": "thought", "title": None, "content": "Let me think."}),
        {
            "type": "chatkit.task",
            "task_type": "thought",
            "heading": None,
            "summary": "Let me think.",
        },
    )
    add(item("generated_image", image={"id": "img_1", "url": "https://img.example/1.png"}), None)
    add(
        item(
            "workflow",
            workflow={
                "type": "reasoning",
                "tasks": [
                    {"type": "thought", "title": "Plan", "content": "First, look it up."},
                    {"type": "custom", "title": "Lookup", "content": None},
                    {"type": "web_search", "title": "Searching the web", "queries": ["q"]},
                ],
                "summary": None,
                "expanded": False,
            },
        ),
        {
            "type": "chatkit.task_group",
            "tasks": [
                {"type": "thought", "heading": "Plan", "summary": "First, look it up."},
                {"type": "custom", "heading": "Lookup", "summary": None},
                {"type": "custom", "heading": "Searching the web", "summary": None},
            ],
        },
    )
    add(
        item(
            "structured_input",
            status="pending",
            inputs=[{"type": "freeform", "id": "q1", "question": "Why?", "answer": None}],
        ),
        None,
    )
    return pairs


JSON_STRING_FIELDS = ("widget", "arguments", "output")


def decode_json_strings(row: dict[str, Any]) -> dict[str, Any]:
    """The item with its JSON-string fields decoded, after checking they are strings."""
    decoded = dict(row)
    for key in JSON_STRING_FIELDS:
        if decoded.get(key) is not None:
            assert isinstance(decoded[key], str), (key, decoded[key])
            decoded[key] = json.loads(decoded[key])
    return decoded


@pytest.fixture
def rendered_thread(
    server: KithostProcess,
) -> tuple[ThreadRecord, list[tuple[ItemRecord, dict[str, Any] | None]]]:
    thread = make_thread(unique_user(), created_at=time.time() - 100)
    pairs = protocol_items(thread.id, thread.created_at)
    seed(server.database_url, [(thread, [record for record, _ in pairs])])
    return thread, pairs


def test_items_render_exactly_as_the_contract(
    admin: openai.OpenAI,
    rendered_thread: tuple[ThreadRecord, list[tuple[ItemRecord, dict[str, Any] | None]]],
) -> None:
    thread, pairs = rendered_thread
    shown = [(record, rest) for record, rest in pairs if rest is not None]

    body = items_raw(admin, thread.id, order="asc", limit=100)

    assert [row["id"] for row in body["data"]] == [record.id for record, _ in shown]
    for row, (record, rest) in zip(body["data"], shown, strict=True):
        common = {
            "id": record.id,
            "object": "chatkit.thread_item",
            "created_at": int(record.created_at),
            "thread_id": thread.id,
        }
        assert decode_json_strings(row) == {**common, **rest}
    assert body["first_id"] == shown[0][0].id
    assert body["last_id"] == shown[-1][0].id
    assert body["has_more"] is False


def test_items_parse_into_the_sdk_classes(
    admin: openai.OpenAI,
    rendered_thread: tuple[ThreadRecord, list[tuple[ItemRecord, dict[str, Any] | None]]],
) -> None:
    thread, _ = rendered_thread
    page = admin.beta.chatkit.threads.list_items(thread.id, order="asc", limit=100)
    classes = [type(item) for item in page.data]
    assert classes == [
        ChatKitThreadUserMessageItem,
        ChatKitThreadUserMessageItem,
        ChatKitThreadAssistantMessageItem,
        ChatKitWidgetItem,
        DataChatKitClientToolCall,
        DataChatKitClientToolCall,
        DataChatKitTask,
        DataChatKitTask,
        DataChatKitTaskGroup,
    ]
    assert {item.type for item in page.data} == REST_TYPES


def test_hidden_items_never_appear_on_any_page(
    admin: openai.OpenAI,
    rendered_thread: tuple[ThreadRecord, list[tuple[ItemRecord, dict[str, Any] | None]]],
) -> None:
    thread, pairs = rendered_thread
    hidden = {record.id for record, rest in pairs if rest is None}
    shown = [record.id for record, rest in pairs if rest is not None]

    for order, expected in (("asc", shown), ("desc", shown[::-1])):
        pages = list(
            admin.beta.chatkit.threads.list_items(thread.id, order=order, limit=2).iter_pages()
        )
        ids = [item.id for page in pages for item in page.data]
        assert ids == expected
        assert not hidden & set(ids)
        assert all(page.has_more for page in pages[:-1])
        assert pages[-1].has_more is False


def test_a_hidden_item_is_not_a_cursor(
    admin: openai.OpenAI,
    rendered_thread: tuple[ThreadRecord, list[tuple[ItemRecord, dict[str, Any] | None]]],
) -> None:
    thread, pairs = rendered_thread
    hidden = next(record.id for record, rest in pairs if rest is None)
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.list_items(thread.id, after=hidden)
    assert caught.value.param == "after"


def test_items_default_to_newest_first(server: KithostProcess, admin: openai.OpenAI) -> None:
    thread = make_thread(unique_user(), created_at=time.time() - 100)
    items = [user_message(thread.id, f"m{n}", thread.created_at + n) for n in range(3)]
    seed(server.database_url, [(thread, items)])

    page = admin.beta.chatkit.threads.list_items(thread.id)
    assert [item.id for item in page.data] == [item.id for item in reversed(items)]


def test_items_of_an_unknown_or_malformed_thread(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        admin.beta.chatkit.threads.list_items(NO_SUCH_THREAD)
    assert not_found.value.param == "thread_id"
    with pytest.raises(openai.BadRequestError) as malformed:
        admin.beta.chatkit.threads.list_items("thread_x")
    assert malformed.value.param == "thread_id"
