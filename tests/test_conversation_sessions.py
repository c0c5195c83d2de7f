"""What a session's client secret allows on the conversation plane: authentication, cancel,
expiry, the per-minute limit, isolation between users, thread status, bad bodies, and the
session's ``history`` and ``automatic_thread_titling`` settings (hosted-api.md §3.1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.chatkit_client import (
    CONVERSATION_PATH,
    FILES_PATH,
    ChatFactory,
    ChatKitClient,
    create_session,
    unique_user,
    user_input,
)
from tests.support.databases import fresh_database
from tests.support.process import KithostProcess
from tests.support.seeding import make_thread, seed, user_message

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
MISSING_THREAD = "cthr_" + "0" * 48


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["message"]
    assert response.headers["x-request-id"]
    return error


def ping(client: ChatKitClient) -> httpx.Response:
    return client.request("threads.list")


# authentication


def test_an_unknown_or_missing_secret_is_a_401(chat: ChatFactory) -> None:
    for secret in ("ek_not_a_real_secret", None):
        client = chat.client(secret)
        error = error_of(ping(client), 401)
        assert error["type"] == "invalid_request_error"
        stream = client.create_thread("hello?")
        assert stream.status_code == 401
        upload = client.upload("a.txt", b"hi", "text/plain")
        error_of(upload, 401)
    basic = chat.client(None).http.post(
        CONVERSATION_PATH,
        content=b'{"type":"threads.list","params":{}}',
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    error_of(basic, 401)
    unknown = error_of(ping(chat.client("ek_not_a_real_secret")), 401)
    assert unknown["code"] == "invalid_client_secret"
    # The secret is checked before the body, as hosted: a bad secret with a bad body is a 401.
    garbage = chat.client("ek_nope").post_raw(b"{not json")
    assert error_of(garbage, 401)
    assert garbage.headers["www-authenticate"].startswith("Bearer")


def test_a_cancelled_session_is_refused_at_once(chat: ChatFactory, admin: openai.OpenAI) -> None:
    client = chat.open()
    thread_id = client.create_thread("before the cancel").thread_id
    cancelled = admin.beta.chatkit.sessions.cancel(client.session["id"])
    assert cancelled.status == "cancelled"

    assert error_of(ping(client), 401)["code"] == "session_cancelled"
    after = client.add_message(thread_id, "after the cancel")
    assert after.status_code == 401
    assert after.body["error"]["code"] == "session_cancelled"
    # The thread is the user's, and a new session of the same user can carry on with it.
    fresh = chat.open(user=client.user)
    assert len(fresh.list_items(thread_id)["data"]) == 2


def test_an_expired_session_is_refused(chat: ChatFactory) -> None:
    client = chat.open(expires_after={"anchor": "created_at", "seconds": 1})
    other = chat.open(user=client.user)  # the default 10 minutes
    expires_at = client.session["expires_at"]
    while time.time() < expires_at + 0.2:
        time.sleep(0.1)
    assert error_of(ping(client), 401)["code"] == "session_expired"
    assert client.create_thread("too late").status_code == 401
    assert ping(other).status_code == 200


def test_the_per_minute_limit_and_its_window(
    start_kithost: Callable[..., KithostProcess], tmp_path: Path
) -> None:
    """3 requests a minute: the 4th is a 429 with a Retry-After; after the window, accepted.

    The one test that waits out the 60-second moving window (rate limits do not depend on the
    database, so it runs once, on a server of its own).
    """
    with fresh_database("sqlite", tmp_path) as url:
        server = start_kithost(url)
        limited = create_session(
            server.url, unique_user(), rate_limits={"max_requests_per_1_minute": 3}
        )
        with ChatKitClient(server.url, limited["client_secret"], limited) as client:
            thread_id = client.create_thread("one").thread_id
            assert ping(client).status_code == 200
            assert client.request("items.list", thread_id=thread_id).status_code == 200

            refused = client.request("items.list", thread_id=thread_id)
            error = error_of(refused, 429)
            assert error["type"] == "rate_limit_exceeded"
            assert error["code"] == "rate_limit_exceeded"
            retry_after = int(refused.headers["retry-after"])
            assert 1 <= retry_after <= 60
            # Streams are refused before they start, with the same envelope.
            stream = client.add_message(thread_id, "two")
            assert stream.status_code == 429
            assert stream.body["error"]["code"] == "rate_limit_exceeded"

            # Another session of the same user has its own budget.
            other = create_session(server.url, client.user)
            with ChatKitClient(server.url, other["client_secret"]) as neighbour:
                assert ping(neighbour).status_code == 200

            deadline = time.monotonic() + 90
            while True:
                time.sleep(retry_after + 0.5)
                again = client.add_message(thread_id, "after the window")
                if again.status_code != 429 or time.monotonic() > deadline:
                    break
                retry_after = int(again.headers["retry-after"])
            assert again.status_code == 200
            assert again.assistant_text() == "after the window"


# isolation between users


def test_users_cannot_see_or_touch_each_others_threads(
    chat: ChatFactory, admin: openai.OpenAI
) -> None:
    uploads = {"file_upload": {"enabled": True}}
    alice = chat.open(chatkit_configuration=uploads)
    bob = chat.open(chatkit_configuration=uploads)
    picture = alice.upload("cat.png", PNG, "image/png").json()
    spare = alice.upload("spare.txt", b"spare", "text/plain").json()
    created = alice.create_thread("alice's secret", [picture["id"]])
    thread_id = created.thread_id
    alice_user = created.done_items("user_message")[0]["id"]
    alice_answer = created.done_items("assistant_message")[0]["id"]
    bobs_thread = bob.create_thread("bob's own").thread_id

    action = {"type": "x", "payload": {}}
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("hi")}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": alice_user}),
        ("threads.custom_action", {"thread_id": thread_id, "action": action}),
        ("threads.sync_custom_action", {"thread_id": thread_id, "action": action}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": alice_user, "input": {}},
        ),
        (
            "items.feedback",
            {"thread_id": thread_id, "item_ids": [alice_answer], "kind": "negative"},
        ),
        ("threads.update", {"thread_id": thread_id, "title": "pwned"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("attachments.delete", {"attachment_id": picture["id"]}),
        ("attachments.delete", {"attachment_id": spare["id"]}),
        ("threads.create", {"input": user_input("mine now", [spare["id"]])}),
        (
            "threads.add_user_message",
            {"thread_id": bobs_thread, "input": user_input("mine now", [picture["id"]])},
        ),
    ]
    for kind, params in attempts:
        result = bob.stream(kind, **params)
        assert result.status_code == 404, (kind, result.status_code, result.raw[:300])
        assert result.body["error"]["type"] == "invalid_request_error"
        # A 404 that says nothing about whether the object exists for someone else.
        assert alice.user not in result.body["error"]["message"]

    # Bob sees only his own thread; Alice's is untouched.
    assert [t["id"] for t in bob.list_threads()["data"]] == [bobs_thread]
    assert [t["id"] for t in alice.list_threads()["data"]] == [thread_id]
    thread = alice.get_thread(thread_id)
    assert thread["title"] == "alice's secret"
    assert [item["id"] for item in thread["items"]["data"]] == [alice_user, alice_answer]
    assert [a["id"] for a in thread["items"]["data"][0]["attachments"]] == [picture["id"]]
    assert len(bob.list_items(bobs_thread)["data"]) == 2
    assert admin.beta.chatkit.threads.retrieve(thread_id).user == alice.user
    # Alice's attachments are still hers to use.
    assert alice.add_message(thread_id, "still mine", [spare["id"]]).status_code == 200


# thread status


@pytest.mark.parametrize("status", ["locked", "closed"])
def test_a_locked_or_closed_thread_refuses_new_input(
    chat: ChatFactory, server: KithostProcess, status: str
) -> None:
    client = chat.open()
    now = time.time() - 10
    thread = make_thread(client.user, created_at=now, status=status, status_reason="read only")
    first = user_message(thread.id, "earlier", now + 1)
    seed(server.database_url, [(thread, [first])])
    action = {"type": "x", "payload": {}}
    refused: list[tuple[str, dict[str, Any]]] = [
        ("threads.add_user_message", {"thread_id": thread.id, "input": user_input("more")}),
        ("threads.add_client_tool_output", {"thread_id": thread.id, "result": {}}),
        ("threads.retry_after_item", {"thread_id": thread.id, "item_id": first.id}),
        ("threads.custom_action", {"thread_id": thread.id, "action": action}),
        (
            "threads.add_structured_input",
            {"thread_id": thread.id, "item_id": first.id, "input": {}},
        ),
    ]
    for kind, params in refused:
        result = client.stream(kind, **params)
        assert result.status_code == 400, (kind, result.status_code)
        assert result.body["error"]["code"] == f"thread_{status}"
        assert result.body["error"]["param"] == "params.thread_id"

    # Reading it is fine, and it shows its status.
    loaded = client.get_thread(thread.id)
    assert loaded["status"] == {"type": status, "reason": "read only"}
    assert [item["id"] for item in loaded["items"]["data"]] == [first.id]
    assert [t["status"]["type"] for t in client.list_threads()["data"]] == [status]


# malformed bodies

BAD_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"{this is not json"),
    ("not utf-8", b"\xff\xfe\x00\x01"),
    ("array", b"[]"),
    ("null", b"null"),
    ("number", b"42"),
    ("no type", b"{}"),
    ("type not a string", b'{"type": 5, "params": {}}'),
    ("unknown type", b'{"type": "threads.explode", "params": {}}'),
    ("no params", b'{"type": "threads.create"}'),
    ("params not an object", b'{"type": "threads.list", "params": []}'),
    ("missing input", b'{"type": "threads.create", "params": {}}'),
    ("content not a list", b'{"type":"threads.create","params":{"input":{"content":"hi"}}}'),
    (
        "unknown content part",
        b'{"type":"threads.create","params":{"input":{"content":[{"type":"video"}],'
        b'"attachments":[],"inference_options":{}}}}',
    ),
    ("thread id a number", b'{"type": "threads.get_by_id", "params": {"thread_id": 7}}'),
    ("limit zero", b'{"type": "threads.list", "params": {"limit": 0}}'),
    ("limit too big", b'{"type": "threads.list", "params": {"limit": 101}}'),
    ("limit huge", b'{"type": "threads.list", "params": {"limit": 1e400}}'),
    ("order sideways", b'{"type": "threads.list", "params": {"order": "sideways"}}'),
    (
        "bad feedback kind",
        b'{"type":"items.feedback","params":{"thread_id":"x","item_ids":[],"kind":"meh"}}',
    ),
    ("title not text", b'{"type": "threads.update", "params": {"thread_id": "x", "title": 1}}'),
    ("nul in an id", b'{"type": "threads.get_by_id", "params": {"thread_id": "a\\u0000b"}}'),
    (
        "nul in a message",
        b'{"type":"threads.create","params":{"input":{"content":[{"type":"input_text",'
        b'"text":"a\\u0000b"}],"attachments":[],"inference_options":{}}}}',
    ),
    ("unknown after", b'{"type": "threads.list", "params": {"after": "cthr_nope"}}'),
    ("bad base64", b'{"type":"input.transcribe","params":{"audio_base64":"@@@","mime_type":"a"}}'),
    ("deep nesting", b'{"a":' * 5000 + b"1" + b"}" * 5000),
]


@pytest.mark.parametrize(("name", "body"), BAD_BODIES, ids=[name for name, _ in BAD_BODIES])
def test_a_malformed_body_is_a_400(chat: ChatFactory, name: str, body: bytes) -> None:
    client = chat.open()
    error = error_of(client.post_raw(body), 400)
    assert error["type"] == "invalid_request_error"


def test_a_nul_character_is_refused_with_its_location(chat: ChatFactory) -> None:
    client = chat.open()
    body = (
        b'{"type":"threads.create","params":{"input":{"content":[{"type":"input_text",'
        b'"text":"a\\u0000b"}],"attachments":[],"inference_options":{}}}}'
    )
    error = error_of(client.post_raw(body), 400)
    assert error["param"] == "params.input.content.0.text"
    # An escaped backslash followed by "u0000" is no NUL, and is accepted.
    literal = client.create_thread("a\\u0000b")
    assert literal.status_code == 200
    assert literal.assistant_text() == "a\\u0000b"


def test_other_methods_are_refused(chat: ChatFactory) -> None:
    client = chat.open()
    response = client.http.get(CONVERSATION_PATH, headers=client.headers())
    assert error_of(response, 405)
    response = client.http.get(FILES_PATH, headers=client.headers())
    assert error_of(response, 405)


# history and titling settings


def test_history_disabled_lists_no_threads(chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"history": {"enabled": False}})
    thread_id = client.create_thread("not in the list").thread_id
    assert client.list_threads() == {"data": [], "has_more": False}
    # The thread itself exists and can be used; only the list is hidden.
    assert client.get_thread(thread_id)["id"] == thread_id
    assert client.add_message(thread_id, "still here").status_code == 200
    with_history = chat.open(user=client.user)
    assert [t["id"] for t in with_history.list_threads()["data"]] == [thread_id]


def test_recent_threads_caps_the_list(chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"history": {"recent_threads": 2}})
    ids = [client.create_thread(f"thread {n}").thread_id for n in range(3)]

    listed = client.list_threads()
    assert [t["id"] for t in listed["data"]] == [ids[2], ids[1]]
    assert listed["has_more"] is False
    first = client.list_threads(limit=1)
    assert [t["id"] for t in first["data"]] == [ids[2]]
    assert first["has_more"] is True
    second = client.list_threads(limit=1, after=first["after"])
    assert [t["id"] for t in second["data"]] == [ids[1]]
    assert second["has_more"] is False
    ascending = client.list_threads(order="asc")
    assert [t["id"] for t in ascending["data"]] == [ids[1], ids[2]]
    # The oldest thread is outside the list, not gone.
    assert client.get_thread(ids[0])["id"] == ids[0]


def test_automatic_titling_enabled_titles_after_the_first_exchange(
    chat: ChatFactory, admin: openai.OpenAI
) -> None:
    client = chat.open(chatkit_configuration={"automatic_thread_titling": {"enabled": True}})
    long_text = "Where should we go for dinner tonight " + "and " * 20 + "why"
    result = client.create_thread(long_text)
    updated = result.of_type("thread.updated")
    assert len(updated) == 1
    title = updated[0]["thread"]["title"]
    assert title
    assert len(title) <= 61
    assert long_text.startswith(title.rstrip("…"))
    assert admin.beta.chatkit.threads.retrieve(result.thread_id).title == title
    # A later turn keeps the title.
    later = client.add_message(result.thread_id, "something else")
    assert not later.of_type("thread.updated")
    assert client.get_thread(result.thread_id)["title"] == title


def test_automatic_titling_disabled_leaves_no_title(
    chat: ChatFactory, admin: openai.OpenAI
) -> None:
    client = chat.open(chatkit_configuration={"automatic_thread_titling": {"enabled": False}})
    result = client.create_thread("No title for me")
    client.add_message(result.thread_id, "nor now")
    assert not result.of_type("thread.updated")
    assert "title" not in client.get_thread(result.thread_id)
    assert admin.beta.chatkit.threads.retrieve(result.thread_id).title is None
