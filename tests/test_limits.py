"""Limits on every input (issue 15), against a real server on SQLite and PostgreSQL.

Regression tests for the findings of the hardening probe: a feedback list past PostgreSQL's
bind-parameter limit (1), a ``user`` too long for an index row (2), bodies of any size (3), chunked
uploads spooled whole before their size check (4), attachments repeated in one message (5), and
two answers that differed from their siblings (10). Then the bounds on ids, strings, lists and
nesting, and the body limits as settings. Resource checks measure the server process itself:
its memory (psutil, and the kernel's peak-RSS counter) and the bytes a client could push into it.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from kithost.store.database import create_engine
from kithost.store.threads import ThreadRepository
from tests.support.chatkit_client import (
    BETA_HEADERS,
    ChatFactory,
    ChatKitClient,
    cancel_session,
    unique_user,
    user_input,
)
from tests.support.process import ADMIN_KEY, KithostProcess

KB = 1024
MB = 1024 * KB
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS}
CONVERSATION = "/v1/chatkit/conversation"
SESSIONS = "/v1/chatkit/sessions"
# What a body the server refused may still have pushed into sockets on the way: the client's
# send buffer and the server's receive buffer, which Linux grows to a few MB on loopback.
IN_FLIGHT = 8 * MB


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


# pushing bodies over a raw socket: how much did the server take before it answered?


@dataclass
class Pushed:
    status: int | None  # None: the connection closed before a whole answer came
    headers: dict[str, str]
    body: Any
    sent: int  # bytes of the request (headers, body, chunk framing) the client got out


def _pieces(total: int, prefix: bytes, suffix: bytes, chunked: bool) -> Iterator[bytes]:
    """The body's bytes, ``prefix`` + ``total`` filler bytes + ``suffix``, framed if chunked."""
    block = b"x" * (64 * KB)

    def payload() -> Iterator[bytes]:
        yield prefix
        left = total
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)
        yield suffix

    for part in payload():
        if not part:
            continue
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part
    if chunked:
        yield b"0\r\n\r\n"


def push_body(
    base_url: str,
    path: str,
    headers: dict[str, str],
    total: int,
    *,
    chunked: bool,
    prefix: bytes = b"",
    suffix: bytes = b"",
    method: str = "POST",
    timeout: float = 60.0,
) -> Pushed:
    """Send a request whose body is ``total`` bytes of filler between ``prefix`` and ``suffix``,
    reading the answer as soon as one comes (as a browser does): what the server took before
    it answered is what the client managed to send."""
    url = urlsplit(base_url)
    assert url.hostname is not None
    assert url.port is not None
    length = len(prefix) + total + len(suffix)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request_head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{head}{framing}\r\n\r\n"
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    # A small send buffer: bytes the client "sent" are then close to bytes the server took.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * KB)
    sent = 0
    received = b""
    pending = request_head.encode()
    pieces = _pieces(total, prefix, suffix, chunked)
    writing = True
    try:
        sock.setblocking(False)
        while True:
            if writing and not pending:
                pending = next(pieces, b"")
                writing = bool(pending)
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], timeout)
            if not readable and not writable:
                raise AssertionError(f"no progress within {timeout} s")
            if readable:
                try:
                    data = sock.recv(256 * KB)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
                if _complete(received):
                    break
            if writable and writing:
                try:
                    count = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    writing = False
                    continue
                sent += count
                pending = pending[count:]
    finally:
        sock.close()
    return _parse(received, sent)


def _split(raw: bytes) -> tuple[int, dict[str, str], bytes] | None:
    if b"\r\n\r\n" not in raw:
        return None
    head, rest = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def _complete(raw: bytes) -> bool:
    split = _split(raw)
    if split is None:
        return False
    _, headers, rest = split
    return len(rest) >= int(headers.get("content-length", "0"))


def _parse(raw: bytes, sent: int) -> Pushed:
    split = _split(raw)
    if split is None or not _complete(raw):
        return Pushed(None, {}, None, sent)
    status, headers, rest = split
    body = rest[: int(headers.get("content-length", "0"))]
    return Pushed(status, headers, json.loads(body) if body else None, sent)


def refused_as_too_large(pushed: Pushed) -> dict[str, Any]:
    """The guard's answer: 413 in the OpenAI envelope, and the connection closed."""
    assert pushed.status == 413, pushed
    assert pushed.headers.get("connection") == "close", pushed.headers
    assert "x-request-id" in pushed.headers
    error: dict[str, Any] = pushed.body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_too_large"
    assert error["param"] is None
    return error


# memory of the server process


def _peak_rss(pid: int) -> int:
    """The kernel's high-water mark of the process's resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * KB
    raise AssertionError("no VmHWM in /proc status")


def _reset_peak_rss(pid: int) -> None:
    """Start the high-water mark again from the current RSS (proc(5): clear_refs, value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# finding 1: items.feedback with a huge id list


def _thread_with_items(client: ChatKitClient) -> tuple[str, list[str]]:
    created = client.create_thread("hello")
    assert created.status_code == 200, created.raw
    return created.thread_id, [item["id"] for item in created.done_items()]


def test_feedback_on_more_items_than_allowed_is_a_400(chat: ChatFactory) -> None:
    client = chat.open()
    thread_id, item_ids = _thread_with_items(client)
    # Past asyncpg's 32,767 bind parameters: a 500 on PostgreSQL before the bound.
    many = [f"cti_{n}" for n in range(40_000)]
    response = client.request("items.feedback", thread_id=thread_id, item_ids=many, kind="positive")
    error = error_of(response, 400)
    assert error["param"] == "params.item_ids"
    assert error["code"] == "array_above_max_length"
    assert "100" in error["message"]

    # At the bound, the real items among unknown and repeated ids get their verdict once.
    listed = (item_ids * 3 + [f"cti_unknown_{n}" for n in range(100)])[:100]
    ok = client.request("items.feedback", thread_id=thread_id, item_ids=listed, kind="negative")
    assert ok.status_code == 200, ok.text


def test_the_feedback_query_takes_any_number_of_ids(
    chat: ChatFactory, server: KithostProcess
) -> None:
    """The store itself is safe too: its IN lists are sliced below the bind-parameter limit."""
    client = chat.open()
    thread_id, item_ids = _thread_with_items(client)
    ids = [f"cti_{n:05d}" for n in range(40_000)] + item_ids

    async def record() -> dict[str, str]:
        engine = create_engine(server.database_url)
        try:
            repo = ThreadRepository(engine)
            await repo.record_feedback(thread_id, ids, "positive")
            return await repo.feedback(thread_id)
        finally:
            await engine.dispose()

    assert asyncio.run(record()) == dict.fromkeys(item_ids, "positive")


# finding 2: sessions.create with a long user


def test_a_user_longer_than_512_characters_is_a_400(server: KithostProcess) -> None:
    for length in (513, 2_700, 100_000):
        body = {"user": "u" * length, "workflow": {"id": "wf_kithost_echo"}}
        response = httpx.post(f"{server.url}{SESSIONS}", json=body, headers=ADMIN)
        error = error_of(response, 400)
        assert error["param"] == "user"
        assert error["code"] == "string_above_max_length"
    # 512 characters (the hosted list filter's own bound) are stored and found again.
    user = (uuid.uuid4().hex * 16)[:512]
    body = {"user": user, "workflow": {"id": "wf_kithost_echo"}}
    created = httpx.post(f"{server.url}{SESSIONS}", json=body, headers=ADMIN)
    assert created.status_code == 200, created.text
    listed = httpx.get(f"{server.url}{SESSIONS}", params={"user": user}, headers=ADMIN)
    assert [session["id"] for session in listed.json()["data"]] == [created.json()["id"]]


def test_long_workflow_ids_and_versions_are_a_400(server: KithostProcess) -> None:
    for workflow, param in (
        ({"id": "wf_" + "x" * 200}, "workflow.id"),
        ({"id": "wf_kithost_echo", "version": "9" * 200}, "workflow.version"),
    ):
        body = {"user": unique_user(), "workflow": workflow}
        response = httpx.post(f"{server.url}{SESSIONS}", json=body, headers=ADMIN)
        error = error_of(response, 400)
        assert (error["param"], error["code"]) == (param, "string_above_max_length")


# finding 3: bodies of any size


# A ``threads.list`` body is these two around filler bytes (a string in its metadata).
THREADS_LIST = (b'{"type": "threads.list", "params": {}, "metadata": {"pad": "', b'"}}')


def test_conversation_bodies_past_1_mb_are_a_413(chat: ChatFactory, server: KithostProcess) -> None:
    client = chat.open()
    headers = {**client.headers(), "Content-Type": "application/json"}
    prefix, suffix = THREADS_LIST
    # Just under the limit: answered.
    fits = push_body(
        server.url,
        CONVERSATION,
        headers,
        MB - 200,
        chunked=True,
        prefix=prefix,
        suffix=suffix,
    )
    assert fits.status == 200, fits
    for chunked in (False, True):
        pushed = push_body(
            server.url,
            CONVERSATION,
            headers,
            MB + 1,
            chunked=chunked,
            prefix=prefix,
            suffix=suffix,
        )
        assert "1048576 bytes" in refused_as_too_large(pushed)["message"]


def test_control_plane_bodies_past_256_kb_are_a_413(server: KithostProcess) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    prefix = b'{"user": "u", "workflow": {"id": "wf_kithost_echo", "state_variables": {"a": "'
    suffix = b'"}}}'
    for chunked in (False, True):
        pushed = push_body(
            server.url, SESSIONS, headers, 300 * KB, chunked=chunked, prefix=prefix, suffix=suffix
        )
        assert "262144 bytes" in refused_as_too_large(pushed)["message"]
    fits = push_body(
        server.url, SESSIONS, headers, 200 * KB, chunked=True, prefix=prefix, suffix=suffix
    )
    assert fits.status == 200, fits


def test_a_413_carries_cors_headers_for_browsers(chat: ChatFactory, server: KithostProcess) -> None:
    client = chat.open()
    headers = {
        **client.headers(),
        "Content-Type": "application/json",
        "Origin": "https://app.example",
    }
    pushed = push_body(server.url, CONVERSATION, headers, 2 * MB, chunked=True)
    refused_as_too_large(pushed)
    assert pushed.headers.get("access-control-allow-origin") == "*"


def test_refused_50_mb_bodies_leave_the_server_memory_as_it_was(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open()
    headers = {**client.headers(), "Content-Type": "application/json"}
    prefix, suffix = THREADS_LIST
    process = psutil.Process(server.pid)
    # Warm up: the first requests of a process allocate for good (imports, pools, caches).
    for _ in range(3):
        client.list_threads()
        push_body(server.url, CONVERSATION, headers, 2 * MB, chunked=True, prefix=prefix)
    before = process.memory_info().rss
    _reset_peak_rss(server.pid)

    results: list[Pushed] = []

    def send(chunked: bool) -> None:
        results.append(
            push_body(
                server.url,
                CONVERSATION,
                headers,
                50 * MB,
                chunked=chunked,
                prefix=prefix,
                suffix=suffix,
            )
        )

    # One declared, one chunked, then five chunked at once (the probe's 242 → 583 MB).
    send(False)
    send(True)
    senders = [threading.Thread(target=send, args=(True,)) for _ in range(5)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()

    peak = _peak_rss(server.pid)
    after = process.memory_info().rss
    assert len(results) == 7
    for pushed in results:
        refused_as_too_large(pushed)
        assert pushed.sent < MB + IN_FLIGHT, pushed.sent
    assert results[0].sent < 64 * KB + IN_FLIGHT  # declared: refused before the body is read
    assert after - before < 4 * MB, (before, after)
    assert peak - before < 8 * MB, (before, peak)
    assert "data" in client.list_threads()  # the server is fine


# finding 4: uploads counted while they stream


def _multipart_parts(name: str, mime_type: str) -> tuple[bytes, bytes]:
    boundary = "kithostlimits"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {mime_type}\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=kithostlimits"


def test_a_200_mb_chunked_direct_upload_to_a_1_mb_session_stops_after_1_mb(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": 1}})
    head, tail = _multipart_parts("big.txt", "text/plain")
    headers = {**client.headers(), "Content-Type": MULTIPART}
    pushed = push_body(
        server.url, "/v1/chatkit/files", headers, 200 * MB, chunked=True, prefix=head, suffix=tail
    )
    assert "max_file_size of 1 MB" in refused_as_too_large(pushed)["message"]
    assert pushed.sent < MB + IN_FLIGHT, pushed.sent
    # The session lost no upload to it, and takes a file at its limit.
    fits = client.upload("exact.txt", b"x" * MB, "text/plain")
    assert fits.status_code == 200, fits.text


def test_a_200_mb_chunked_two_phase_upload_to_a_1_mb_session_stops_after_1_mb(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": 1}})
    for multipart in (False, True):
        created = client.create_attachment("big.txt", 10, "text/plain")
        assert created.status_code == 200, created.text
        url = urlsplit(created.json()["upload_descriptor"]["url"])
        head, tail = _multipart_parts("big.txt", "text/plain") if multipart else (b"", b"")
        content_type = MULTIPART if multipart else "text/plain"
        pushed = push_body(
            server.url,
            f"{url.path}?{url.query}",
            {"Content-Type": content_type},
            200 * MB,
            chunked=True,
            prefix=head,
            suffix=tail,
        )
        assert pushed.status in (400, 413), pushed
        assert pushed.headers.get("connection") == "close"
        assert pushed.body["error"]["code"] in ("file_too_large", "request_too_large")
        assert pushed.sent < MB + IN_FLIGHT, pushed.sent


def test_an_upload_declared_larger_than_the_session_allows_is_refused_unread(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": 1}})
    head, tail = _multipart_parts("big.txt", "text/plain")
    headers = {**client.headers(), "Content-Type": MULTIPART}
    pushed = push_body(
        server.url, "/v1/chatkit/files", headers, 30 * MB, chunked=False, prefix=head, suffix=tail
    )
    assert pushed.status == 400, pushed
    assert pushed.body["error"]["code"] == "file_too_large"
    assert pushed.headers.get("connection") == "close"
    assert pushed.sent < IN_FLIGHT, pushed.sent


# finding 5: attachments of one message


def _upload(client: ChatKitClient, name: str) -> str:
    response = client.upload(name, b"some text", "text/plain")
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_an_attachment_listed_10000_times_is_kept_once(chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True, "max_files": 2}})
    attachment_id = _upload(client, "a.txt")
    created = client.create_thread("one file", [attachment_id] * 10_000)
    assert created.status_code == 200, created.body
    message = created.done_items("user_message")[0]
    assert [attachment["id"] for attachment in message["attachments"]] == [attachment_id]
    stored = client.list_items(created.thread_id)["data"]
    user_messages = [item for item in stored if item["type"] == "user_message"]
    assert [a["id"] for a in user_messages[0]["attachments"]] == [attachment_id]


def test_more_attachments_than_the_sessions_max_files_is_a_400(chat: ChatFactory) -> None:
    user = unique_user()
    uploads = {"file_upload": {"enabled": True, "max_files": 3}}
    uploader = chat.open(user, chatkit_configuration=uploads)
    attachment_ids = [_upload(uploader, f"{n}.txt") for n in range(3)]
    # The same user, a session allowing two files: three distinct ones are refused.
    narrow = {"file_upload": {"enabled": True, "max_files": 2}}
    client = chat.open(user, chatkit_configuration=narrow)
    refused = client.create_thread("three", attachment_ids)
    assert refused.status_code == 400
    error = refused.body["error"]
    assert error["param"] == "params.input.attachments"
    assert error["code"] == "array_above_max_length"
    assert "max_files" in error["message"]
    assert client.list_threads()["data"] == []
    assert client.create_thread("two", attachment_ids[:2] * 5).status_code == 200


# finding 10: answers that differed from their siblings


ACTION = {"type": "confirm", "payload": {"answer": 42}}


def test_a_custom_action_from_a_non_widget_is_the_same_400_streaming_or_not(
    chat: ChatFactory,
) -> None:
    client = chat.open()
    thread_id, item_ids = _thread_with_items(client)
    params: dict[str, Any] = {"thread_id": thread_id, "item_id": item_ids[0], "action": ACTION}
    streamed = client.stream("threads.custom_action", **params)
    synced = client.request("threads.sync_custom_action", **params)
    assert streamed.status_code == 400, streamed.events
    error = error_of(synced, 400)
    assert streamed.body == {"error": error}
    assert (error["param"], error["code"]) == ("params.item_id", "invalid_item")
    assert "widget" in error["message"]
    assert len(client.list_items(thread_id)["data"]) == len(item_ids)


def test_a_two_phase_upload_after_the_session_is_cancelled_is_a_401_session_cancelled(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True}})
    created = client.create_attachment("late.txt", 5, "text/plain")
    assert created.status_code == 200, created.text
    cancel_session(server.url, client.session["id"])
    url = created.json()["upload_descriptor"]["url"]
    for content in (b"hello", b"x" * (2 * MB)):
        response = httpx.post(url, content=content, headers={"Content-Type": "text/plain"})
        error = error_of(response, 401)
        assert error["code"] == "session_cancelled"
        assert response.headers["www-authenticate"].startswith("Bearer")


# ids, strings, lists and nesting


def test_ids_longer_than_128_characters_are_a_400_before_any_query(
    chat: ChatFactory, server: KithostProcess
) -> None:
    long_id = "cthr_" + "a" * 5_000
    for path in (
        f"/v1/chatkit/threads/{long_id}",
        f"/v1/chatkit/threads/{long_id}/items",
        f"/v1/chatkit/sessions/cksess_{'b' * 5_000}",
        f"/v1/chatkit/runs/run_{'c' * 5_000}",
    ):
        error = error_of(httpx.get(f"{server.url}{path}", headers=ADMIN), 400)
        assert error["code"] == "string_above_max_length", path
        assert "128" in error["message"]
    listed = httpx.get(f"{server.url}/v1/chatkit/threads", params={"after": long_id}, headers=ADMIN)
    assert error_of(listed, 400)["param"] == "after"
    # Authentication still comes first.
    assert httpx.get(f"{server.url}/v1/chatkit/threads/{long_id}").status_code == 401

    client = chat.open()
    thread_id, item_ids = _thread_with_items(client)
    for kind, params, param in (
        ("threads.get_by_id", {"thread_id": long_id}, "params.thread_id"),
        (
            "threads.retry_after_item",
            {"thread_id": thread_id, "item_id": "cti_" + "d" * 500},
            "params.item_id",
        ),
        (
            "items.feedback",
            {"thread_id": thread_id, "item_ids": [item_ids[0], "e" * 500], "kind": "positive"},
            "params.item_ids[1]",
        ),
        ("attachments.delete", {"attachment_id": "cfile_" + "f" * 500}, "params.attachment_id"),
        ("threads.list", {"after": long_id}, "params.after"),
    ):
        error = error_of(client.request(kind, **params), 400)
        assert (error["param"], error["code"]) == (param, "string_above_max_length"), kind
    refused = client.create_thread("hi", ["cfile_" + "g" * 500])
    assert refused.status_code == 400
    assert refused.body["error"]["param"] == "params.input.attachments[0]"


def test_strings_and_lists_of_the_conversation_are_bounded(chat: ChatFactory) -> None:
    client = chat.open(chatkit_configuration={"file_upload": {"enabled": True}})
    thread_id, _ = _thread_with_items(client)
    title = client.request("threads.update", thread_id=thread_id, title="t" * 513)
    assert error_of(title, 400)["param"] == "params.title"
    assert client.request("threads.update", thread_id=thread_id, title="t" * 512).status_code == 200
    name = client.create_attachment("n" * 1_025, 5, "text/plain")
    assert error_of(name, 400)["param"] == "params.name"
    parts = [{"type": "input_text", "text": "x"}] * 101
    many_parts = client.stream(
        "threads.add_user_message",
        thread_id=thread_id,
        input=user_input("x") | {"content": parts},
    )
    assert many_parts.status_code == 400
    assert many_parts.body["error"]["param"] == "params.input.content"


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def test_json_nested_too_deep_is_a_400_not_a_500(chat: ChatFactory, server: KithostProcess) -> None:
    # 100,000 levels: Python's json module fails with RecursionError (a 500 before the bound).
    deep = b'{"user": "u", "workflow": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(
        f"{server.url}{SESSIONS}",
        content=deep,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid_json"
    assert "64 levels" in error["message"]

    client = chat.open()
    too_deep = json.dumps(
        {"type": "threads.list", "params": {}, "metadata": {"x": _nested(40)}}
    ).encode()  # 81 levels of objects and arrays
    assert "64 levels" in error_of(client.post_raw(too_deep), 400)["message"]
    # Brackets inside strings do not count; 60 levels are fine.
    fine = json.dumps(
        {"type": "threads.list", "params": {}, "metadata": {"x": _nested(30), "s": "[" * 500}}
    ).encode()
    assert client.post_raw(fine).status_code == 200


def test_vector_store_file_lists_are_bounded(server: KithostProcess) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    too_many = {"file_ids": [f"file-{n}" for n in range(2_001)]}
    response = httpx.post(f"{server.url}/v1/vector_stores", json=too_many, headers=headers)
    error = error_of(response, 400)
    assert (error["param"], error["code"]) == ("file_ids", "array_above_max_length")
    batch = {"files": [{"file_id": f"file-{n}"} for n in range(2_001)]}
    store = httpx.post(f"{server.url}/v1/vector_stores", json={}, headers=headers)
    assert store.status_code == 200, store.text
    response = httpx.post(
        f"{server.url}/v1/vector_stores/{store.json()['id']}/file_batches",
        json=batch,
        headers=headers,
    )
    error = error_of(response, 400)
    assert (error["param"], error["code"]) == ("files", "array_above_max_length")


# the body limits are settings


def test_body_limits_follow_their_settings(
    database_url: str, start_kithost: Any, tmp_path: Path
) -> None:
    small = start_kithost(
        database_url,
        KITHOST_MAX_CONVERSATION_BODY_BYTES="4096",
        KITHOST_MAX_CONTROL_BODY_BYTES="2048",
        KITHOST_MAX_FILE_BYTES="10240",
    )
    body = {"user": unique_user(), "workflow": {"id": "wf_kithost_echo"}}
    created = httpx.post(f"{small.url}{SESSIONS}", json=body, headers=ADMIN)
    assert created.status_code == 200, created.text
    big = {**body, "workflow": {"id": "wf_kithost_echo", "state_variables": {"a": "x" * 3000}}}
    error = error_of(httpx.post(f"{small.url}{SESSIONS}", json=big, headers=ADMIN), 413)
    assert error["code"] == "request_too_large"
    assert "KITHOST_MAX_CONTROL_BODY_BYTES" in error["message"]

    client = ChatKitClient(small.url, created.json()["client_secret"], created.json())
    with client:
        assert "data" in client.list_threads()
        padded = json.dumps({"type": "threads.list", "params": {}, "metadata": {"p": "x" * 5000}})
        error = error_of(client.post_raw(padded.encode()), 413)
        assert "KITHOST_MAX_CONVERSATION_BODY_BYTES" in error["message"]

    files = {"Authorization": f"Bearer {ADMIN_KEY}"}
    fits = httpx.post(
        f"{small.url}/v1/files",
        files={"file": ("a.txt", b"x" * 10_240, "text/plain")},
        data={"purpose": "user_data"},
        headers=files,
    )
    assert fits.status_code == 200, fits.text
    over = httpx.post(
        f"{small.url}/v1/files",
        files={"file": ("a.txt", b"x" * 10_241, "text/plain")},
        data={"purpose": "user_data"},
        headers=files,
    )
    assert error_of(over, 400)["code"] == "file_too_large"
    way_over = httpx.post(
        f"{small.url}/v1/files",
        files={"file": ("a.txt", b"x" * (200 * KB), "text/plain")},
        data={"purpose": "user_data"},
        headers=files,
    )
    assert error_of(way_over, 413)["code"] == "request_too_large"
