"""Data rights: ``kithost users export`` / ``erase`` and ``/v1/chatkit/users/{user}``, on a real
server and both databases. Export holds what the user made (files' bytes included); an erasure
deletes it all, counts it on the receipt, and leaves other users alone."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.chatkit_client import BETA_HEADERS, ChatFactory, unique_user
from tests.support.data_rights import cli_json, count, kithost_cli
from tests.support.process import ADMIN_KEY, KithostProcess

pytestmark = pytest.mark.timeout(300)

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS}


@dataclass
class Made:
    """What one user made through the conversation endpoint."""

    user: str
    session_id: str
    thread_id: str
    attachment_id: str
    file_bytes: bytes


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def make_user_data(chat: ChatFactory, user: str | None = None) -> Made:
    """A session, a file uploaded and sent in a new thread, and a second message."""
    uploads = {"file_upload": {"enabled": True}}
    client = chat.open(user or unique_user(), chatkit_configuration=uploads)
    # Several of the export's read slices long, and not a multiple of 3 (base64's groups).
    data = f"notes of {client.user}\n".encode() * 20 + b"".join(
        f"line {n} of the notes\n".encode() for n in range(12_000)
    )
    data += b"." * (len(data) % 3 == 0)
    uploaded = client.upload("notes.txt", data, "text/plain")
    assert uploaded.status_code == 200, uploaded.text
    attachment_id = uploaded.json()["id"]
    thread_id = client.create_thread("Read my notes", [attachment_id]).thread_id
    client.add_message(thread_id, "And summarize them")
    return Made(client.user, client.session["id"], thread_id, attachment_id, data)


def stored_files(server: KithostProcess, attachment_id: str) -> list[Path]:
    return list((server.workdir / "data" / "files").rglob(f"*{attachment_id}*"))


def export(server: KithostProcess, user: str, tmp_path: Path) -> dict[str, Any]:
    output = tmp_path / f"{user}.json"
    done = kithost_cli(server, "users", "export", user, "--output", str(output))
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(output.read_text())
    return data


def assert_has_everything(data: dict[str, Any], made: Made) -> None:
    assert data["object"] == "chatkit.user_data_export"
    assert data["user"] == made.user
    assert [session["id"] for session in data["sessions"]] == [made.session_id]
    assert "secret_hash" not in data["sessions"][0]
    assert "client_secret" not in json.dumps(data)
    assert [thread["id"] for thread in data["threads"]] == [made.thread_id]
    texts = json.dumps([item["data"] for item in data["items"]])
    assert "Read my notes" in texts
    assert "And summarize them" in texts
    assert {item["thread_id"] for item in data["items"]} == {made.thread_id}
    [attachment] = data["attachments"]
    assert attachment["id"] == made.attachment_id
    assert attachment["name"] == "notes.txt"
    assert base64.b64decode(attachment["content_base64"]) == made.file_bytes
    assert len(data["runs"]) == 2  # two turns
    assert {run["thread_id"] for run in data["runs"]} == {made.thread_id}


def assert_empty(data: dict[str, Any]) -> None:
    for kind in ("sessions", "threads", "items", "feedback", "attachments", "runs"):
        assert data[kind] == [], kind


def expected_receipt(data: dict[str, Any]) -> dict[str, int]:
    return {
        "sessions": len(data["sessions"]),
        "threads": len(data["threads"]),
        "items": len(data["items"]),
        "feedback": len(data["feedback"]),
        "attachments": len(data["attachments"]),
        "attachment_files": len(data["attachments"]),
        "runs": len(data["runs"]),
    }


def assert_gone(server: KithostProcess, made: Made) -> None:
    url = server.database_url
    assert count(url, "thread_items", "thread_id", [made.thread_id]) == 0
    assert count(url, "trace_spans", "thread_id", [made.thread_id]) == 0
    assert count(url, "runs", "user_id", [made.user]) == 0
    assert count(url, "sessions", "user_id", [made.user]) == 0
    assert stored_files(server, made.attachment_id) == []


def test_export_then_erase_with_yes_then_export_is_empty(
    server: KithostProcess, chat: ChatFactory, tmp_path: Path
) -> None:
    made, other = make_user_data(chat), make_user_data(chat)
    before = export(server, made.user, tmp_path)
    assert_has_everything(before, made)
    assert stored_files(server, made.attachment_id)
    spans = count(server.database_url, "trace_spans", "thread_id", [made.thread_id])

    receipt = cli_json(server, "users", "erase", made.user, "--yes")

    assert receipt["object"] == "chatkit.user_data_erasure"
    assert receipt["user"] == made.user
    assert receipt["erased_at"] > 0
    assert receipt["deleted"] == {**expected_receipt(before), "trace_spans": spans}
    assert_empty(export(server, made.user, tmp_path))
    assert_gone(server, made)
    assert_has_everything(export(server, other.user, tmp_path), other)
    assert stored_files(server, other.attachment_id)


def test_erase_asks_and_takes_the_answer_on_standard_input(
    server: KithostProcess, chat: ChatFactory, tmp_path: Path
) -> None:
    made = make_user_data(chat)
    refused = kithost_cli(server, "users", "erase", made.user, stdin="n\n")
    assert refused.returncode == 1
    assert "[y/N]" in refused.stderr
    assert "Nothing erased" in refused.stderr
    assert_has_everything(export(server, made.user, tmp_path), made)

    before = export(server, made.user, tmp_path)
    receipt = cli_json(server, "users", "erase", made.user, stdin="y\n")
    assert receipt["deleted"]["threads"] == 1
    assert receipt["deleted"]["items"] == len(before["items"])
    assert_empty(export(server, made.user, tmp_path))
    assert_gone(server, made)


def test_export_and_erase_over_rest_with_the_admin_key(
    server: KithostProcess, chat: ChatFactory, tmp_path: Path
) -> None:
    made, other = make_user_data(chat), make_user_data(chat)
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=30) as http:
        exported = http.get(f"/v1/chatkit/users/{made.user}/export")
        assert exported.status_code == 200, exported.text
        assert_has_everything(exported.json(), made)

        erased = http.delete(f"/v1/chatkit/users/{made.user}")
        assert erased.status_code == 200, erased.text
        deleted = erased.json()["deleted"]
        assert {k: v for k, v in deleted.items() if k != "trace_spans"} == expected_receipt(
            exported.json()
        )

        assert_empty(http.get(f"/v1/chatkit/users/{made.user}/export").json())
        assert_has_everything(http.get(f"/v1/chatkit/users/{other.user}/export").json(), other)
    assert_gone(server, made)

    client_secret = chat.open(unique_user()).client_secret
    for token in (client_secret, "sk-wrong"):
        refused = httpx.delete(
            f"{server.url}/v1/chatkit/users/{other.user}",
            headers={"Authorization": f"Bearer {token}", **BETA_HEADERS},
        )
        assert refused.status_code == 401, refused.text
    assert_has_everything(export(server, other.user, tmp_path), other)


def test_a_user_id_with_a_slash_and_accents_over_rest(
    server: KithostProcess, chat: ChatFactory
) -> None:
    made = make_user_data(chat, f"team/{unique_user()}/José")
    path = f"/v1/chatkit/users/{quote(made.user, safe='')}"
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=30) as http:
        exported = http.get(f"{path}/export")
        assert exported.status_code == 200, exported.text
        assert_has_everything(exported.json(), made)
        erased = http.delete(path)
        assert erased.status_code == 200, erased.text
        assert erased.json()["deleted"]["threads"] == 1
        assert_empty(http.get(f"{path}/export").json())
    assert_gone(server, made)


def test_an_attachment_whose_bytes_are_gone_is_exported_as_null(
    server: KithostProcess, chat: ChatFactory
) -> None:
    """A lost data directory does not break the export: the row is there, its bytes null."""
    made, other = make_user_data(chat), make_user_data(chat)
    for path in stored_files(server, made.attachment_id):
        path.unlink()
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=30) as http:
        exported = http.get(f"/v1/chatkit/users/{made.user}/export").json()
        assert_has_everything(http.get(f"/v1/chatkit/users/{other.user}/export").json(), other)
    [attachment] = exported["attachments"]
    assert attachment["id"] == made.attachment_id
    assert attachment["content_base64"] is None
    assert [thread["id"] for thread in exported["threads"]] == [made.thread_id]
