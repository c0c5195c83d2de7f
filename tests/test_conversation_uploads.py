"""Uploads on the conversation plane (chatkit-protocol.md §5.3, hosted-api.md §3.7): direct
``POST /v1/chatkit/files`` and two-phase ``attachments.create`` + signed upload link, the
session's ``file_upload`` limits, signed preview links, and attachment bytes on disk."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import openai
import pytest

from kithost.core.signing import LinkSigner, content_path
from kithost.store.database import create_engine
from kithost.store.server_secrets import get_or_create_secret
from tests.support.chatkit_client import ChatFactory, ChatKitClient
from tests.support.process import KithostProcess

MEGABYTE = 1024 * 1024
# The name under which kithost keeps its link-signing key (kithost.services.LINK_SIGNING_SECRET;
# importing that module here would import chatkit, whose widgets warn at import time).
LINK_SIGNING_SECRET = "link_signing_key"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"0" * 100
UPLOADS = {"file_upload": {"enabled": True}}


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def uploader(chat: ChatFactory, **file_upload: Any) -> ChatKitClient:
    return chat.open(chatkit_configuration={"file_upload": {"enabled": True, **file_upload}})


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


def stored_files(server: KithostProcess, attachment_id: str) -> list[Path]:
    """The files holding an attachment's bytes under the server's KITHOST_DATA_DIR."""
    return [path for path in (server.workdir / "data" / "files").rglob(f"*{attachment_id}*")]


def two_phase(client: ChatKitClient, name: str, data: bytes, mime_type: str) -> dict[str, Any]:
    created = client.create_attachment(name, len(data), mime_type)
    assert created.status_code == 200, created.text
    attachment: dict[str, Any] = created.json()
    return attachment


def upload_to(descriptor: dict[str, Any], data: bytes, mime_type: str, mode: str) -> httpx.Response:
    """Step 2 of a two-phase upload, as a browser would: no Authorization header."""
    url = descriptor["url"]
    if mode == "multipart":
        return httpx.request(descriptor["method"], url, files={"file": ("f", data, mime_type)})
    method = "PUT" if mode == "raw-put" else "POST"
    return httpx.request(method, url, content=data, headers={"Content-Type": mime_type})


def signing_key(database_url: str) -> str:
    """The server's link-signing key, read from its database (every process shares it)."""

    async def run() -> str:
        engine = create_engine(database_url)
        try:
            return await get_or_create_secret(engine, LINK_SIGNING_SECRET)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


# direct uploads


def test_direct_upload_of_an_image_serves_its_preview(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = uploader(chat)
    response = client.upload("cat.png", PNG, "image/png")
    assert response.status_code == 200, response.text
    attachment = response.json()
    assert attachment["id"]
    assert attachment["type"] == "image"
    assert attachment["name"] == "cat.png"
    assert attachment["mime_type"] == "image/png"
    assert attachment["upload_url"] is None
    assert "upload_descriptor" not in attachment

    # The preview is a signed link: it works without the client secret.
    preview = httpx.get(attachment["preview_url"])
    assert preview.status_code == 200
    assert preview.content == PNG
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["x-content-type-options"] == "nosniff"
    assert [path.read_bytes() for path in stored_files(server, attachment["id"])] == [PNG]


def test_direct_upload_of_a_document_has_no_preview(chat: ChatFactory) -> None:
    client = uploader(chat)
    response = client.upload("report.pdf", PDF, "application/pdf")
    assert response.status_code == 200, response.text
    attachment = response.json()
    assert attachment["type"] == "file"
    assert attachment["mime_type"] == "application/pdf"
    assert "preview_url" not in attachment


def test_direct_upload_needs_a_file_part(chat: ChatFactory) -> None:
    client = uploader(chat)
    headers = client.headers()
    other_field = client.http.post(
        "/v1/chatkit/files", files={"document": ("a.txt", b"hi", "text/plain")}, headers=headers
    )
    assert error_of(other_field, 400)["param"] == "file"
    not_multipart = client.http.post(
        "/v1/chatkit/files", content=b"hi", headers={**headers, "Content-Type": "text/plain"}
    )
    assert error_of(not_multipart, 400)["param"] == "file"
    empty = client.upload("empty.txt", b"", "text/plain")
    assert error_of(empty, 400)["code"] == "empty_file"


def test_a_nul_in_a_file_name_is_a_400(chat: ChatFactory) -> None:
    client = uploader(chat)
    body = (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--BOUNDARY--\r\n"
    )
    response = client.http.post(
        "/v1/chatkit/files",
        content=body,
        headers={**client.headers(), "Content-Type": "multipart/form-data; boundary=BOUNDARY"},
    )
    assert error_of(response, 400)["param"] == "file"


# two-phase uploads


@pytest.mark.parametrize("mode", ["multipart", "raw-post", "raw-put"])
def test_two_phase_upload(chat: ChatFactory, server: KithostProcess, mode: str) -> None:
    client = uploader(chat)
    attachment = two_phase(client, "cat.png", PNG, "image/png")
    assert attachment["type"] == "image"
    assert attachment["name"] == "cat.png"
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "POST"
    assert descriptor["headers"] == {}
    assert descriptor["url"].startswith(f"{server.url}/v1/chatkit/files/{attachment['id']}/")
    # No bytes yet.
    assert httpx.get(attachment["preview_url"]).status_code == 404
    assert stored_files(server, attachment["id"]) == []

    uploaded = upload_to(descriptor, PNG, "image/png", mode)
    assert uploaded.status_code == 200, uploaded.text
    done = uploaded.json()
    assert done["id"] == attachment["id"]
    assert "upload_descriptor" not in done
    assert httpx.get(done["preview_url"]).content == PNG
    assert [path.read_bytes() for path in stored_files(server, attachment["id"])] == [PNG]

    again = upload_to(descriptor, PNG, "image/png", mode)
    assert error_of(again, 409)["code"] == "already_uploaded"
    sent = client.create_thread("look", [attachment["id"]])
    assert sent.status_code == 200
    assert sent.done_items("user_message")[0]["attachments"][0]["id"] == attachment["id"]


def test_an_attachment_without_bytes_cannot_be_sent(chat: ChatFactory) -> None:
    client = uploader(chat)
    attachment = two_phase(client, "later.txt", b"later", "text/plain")
    result = client.create_thread("too early", [attachment["id"]])
    assert result.status_code == 400
    assert result.body["error"]["code"] == "upload_incomplete"
    assert client.list_threads()["data"] == []


# the session's limits


def test_uploads_disabled_are_refused(chat: ChatFactory) -> None:
    client = chat.open()  # file_upload.enabled defaults to false
    direct = client.upload("a.txt", b"hello", "text/plain")
    assert error_of(direct, 403)["code"] == "uploads_disabled"
    created = client.create_attachment("a.txt", 5, "text/plain")
    assert error_of(created, 403)["code"] == "uploads_disabled"


def test_a_file_over_max_file_size_is_a_400(chat: ChatFactory, server: KithostProcess) -> None:
    client = uploader(chat, max_file_size=1)
    just_over = b"x" * (MEGABYTE + 1)
    assert error_of(client.upload("big.txt", just_over, "text/plain"), 400)["code"] == (
        "file_too_large"
    )
    way_over = b"x" * (3 * MEGABYTE)
    assert error_of(client.upload("huge.txt", way_over, "text/plain"), 400)["code"] == (
        "file_too_large"
    )
    declared = client.create_attachment("big.txt", MEGABYTE + 1, "text/plain")
    assert error_of(declared, 400)["code"] == "file_too_large"

    # Declared small, sent large: refused while the bytes arrive, and nothing is kept.
    attachment = two_phase(client, "liar.txt", b"small", "text/plain")
    sent = upload_to(attachment["upload_descriptor"], just_over, "text/plain", "raw-post")
    assert error_of(sent, 400)["code"] == "file_too_large"
    assert stored_files(server, attachment["id"]) == []
    # Exactly the limit is fine.
    assert client.upload("exact.txt", b"x" * MEGABYTE, "text/plain").status_code == 200


def test_more_than_max_files_is_a_400(chat: ChatFactory) -> None:
    client = uploader(chat, max_files=2, max_file_size=1)
    # Refused files are no uploads: they do not use up the session's allowance.
    assert client.upload("bad.png", b"not a png at all", "image/png").status_code == 400
    assert client.upload("big.txt", b"x" * (MEGABYTE + 1), "text/plain").status_code == 400

    assert client.upload("one.txt", b"one", "text/plain").status_code == 200
    assert two_phase(client, "two.txt", b"two", "text/plain")["id"]
    third = client.upload("three.txt", b"three", "text/plain")
    error = error_of(third, 400)
    assert error["code"] == "too_many_files"
    assert "2" in error["message"]
    assert error_of(client.create_attachment("four.txt", 4, "text/plain"), 400)["code"] == (
        "too_many_files"
    )
    # The allowance is the session's: a new session of the same user starts afresh.
    fresh = chat.open(user=client.user, chatkit_configuration=UPLOADS)
    assert fresh.upload("five.txt", b"five", "text/plain").status_code == 200


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [("archive.zip", "application/zip"), ("run.exe", "application/x-msdownload")],
)
def test_a_type_not_accepted_is_a_400(chat: ChatFactory, name: str, mime_type: str) -> None:
    client = uploader(chat)
    direct = client.upload(name, b"PK\x03\x04 whatever", mime_type)
    assert error_of(direct, 400)["code"] == "unsupported_file_type"
    created = client.create_attachment(name, 10, mime_type)
    assert error_of(created, 400)["code"] == "unsupported_file_type"


def test_a_png_that_is_not_a_png_is_a_400(chat: ChatFactory, server: KithostProcess) -> None:
    client = uploader(chat)
    fake = b"GIF89a" + b"\x00" * 64
    direct = client.upload("fake.png", fake, "image/png")
    assert error_of(direct, 400)["code"] == "invalid_file"

    attachment = two_phase(client, "fake.png", fake, "image/png")
    descriptor = attachment["upload_descriptor"]
    assert error_of(upload_to(descriptor, fake, "image/png", "multipart"), 400)["code"] == (
        "invalid_file"
    )
    assert stored_files(server, attachment["id"]) == []
    # The link stays good for the real bytes.
    assert upload_to(descriptor, PNG, "image/png", "multipart").status_code == 200


# signed links


def test_preview_and_upload_links_check_their_signature(
    chat: ChatFactory, server: KithostProcess
) -> None:
    client = uploader(chat)
    image = client.upload("cat.png", PNG, "image/png").json()
    other = client.upload("dog.png", PNG, "image/png").json()
    preview = image["preview_url"]
    assert httpx.get(preview).status_code == 200

    signature = parse_qs(urlsplit(preview).query)["signature"][0]
    expires = int(parse_qs(urlsplit(preview).query)["expires"][0])
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    tampered = [
        with_query(preview, signature=flipped),
        with_query(preview, expires=str(expires + 3600)),
        with_query(preview, signature=""),
        preview.split("?")[0],
        # Another file's valid signature does not open this one.
        with_query(other["preview_url"], signature=signature, expires=str(expires)),
    ]
    for url in tampered:
        response = httpx.get(url)
        assert response.status_code == 404, url
        assert error_of(response, 404)["type"] == "invalid_request_error"

    # Correctly signed by the server's own key, but expired.
    signer = LinkSigner(signing_key(server.database_url))
    expired = signer.sign(server.url, content_path(image["id"]), ttl=-5)
    assert httpx.get(expired).status_code == 404
    fresh = signer.sign(server.url, content_path(image["id"]), ttl=60)
    assert httpx.get(fresh).content == PNG  # the same key, not expired: accepted

    attachment = two_phase(client, "up.txt", b"data", "text/plain")
    upload_url = attachment["upload_descriptor"]["url"]
    bad_upload = httpx.post(
        with_query(upload_url, signature=flipped), files={"file": ("up.txt", b"data")}
    )
    assert bad_upload.status_code == 404


# attachments in messages, and their deletion


def test_a_message_with_attachments_stores_them(chat: ChatFactory, admin: openai.OpenAI) -> None:
    client = uploader(chat)
    image = client.upload("cat.png", PNG, "image/png").json()
    document = two_phase(client, "notes.txt", b"some notes", "text/plain")
    assert upload_to(document["upload_descriptor"], b"some notes", "text/plain", "raw-post")

    result = client.create_thread("two files", [image["id"], document["id"]])
    assert result.status_code == 200
    thread_id = result.thread_id
    sent = result.done_items("user_message")[0]["attachments"]
    assert [(a["id"], a["type"], a["thread_id"]) for a in sent] == [
        (image["id"], "image", thread_id),
        (document["id"], "file", thread_id),
    ]
    stored = client.get_thread(thread_id)["items"]["data"][0]["attachments"]
    assert [a["id"] for a in stored] == [image["id"], document["id"]]
    assert httpx.get(stored[0]["preview_url"]).content == PNG

    items = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data
    rest = items[0].model_dump()["attachments"]
    assert [(a["id"], a["type"], a["name"], a["mime_type"]) for a in rest] == [
        (image["id"], "image", "cat.png", "image/png"),
        (document["id"], "file", "notes.txt", "text/plain"),
    ]
    assert rest[1]["preview_url"] is None
    assert httpx.get(rest[0]["preview_url"]).content == PNG


@pytest.mark.parametrize("via", ["protocol", "rest"])
def test_deleting_a_thread_deletes_its_attachment_bytes(
    chat: ChatFactory, server: KithostProcess, admin: openai.OpenAI, via: str
) -> None:
    client = uploader(chat)
    image = client.upload("cat.png", PNG, "image/png").json()
    document = two_phase(client, "notes.txt", b"notes", "text/plain")
    upload_to(document["upload_descriptor"], b"notes", "text/plain", "multipart")
    unrelated = client.upload("keep.txt", b"keep", "text/plain").json()
    thread_id = client.create_thread("files", [image["id"], document["id"]]).thread_id
    preview = client.get_thread(thread_id)["items"]["data"][0]["attachments"][0]["preview_url"]
    for attachment in (image, document, unrelated):
        assert len(stored_files(server, attachment["id"])) == 1

    if via == "protocol":
        assert client.json("threads.delete", thread_id=thread_id) == {}
    else:
        assert admin.beta.chatkit.threads.delete(thread_id).deleted is True

    assert stored_files(server, image["id"]) == []
    assert stored_files(server, document["id"]) == []
    assert httpx.get(preview).status_code == 404
    # An attachment that was never part of the thread is not touched.
    assert len(stored_files(server, unrelated["id"])) == 1
    assert client.create_thread("reuse", [unrelated["id"]]).status_code == 200


def test_attachments_delete_removes_the_bytes(chat: ChatFactory, server: KithostProcess) -> None:
    client = uploader(chat)
    image = client.upload("cat.png", PNG, "image/png").json()
    assert len(stored_files(server, image["id"])) == 1
    assert client.json("attachments.delete", attachment_id=image["id"]) == {}
    assert stored_files(server, image["id"]) == []
    assert httpx.get(image["preview_url"]).status_code == 404
    unusable = client.create_thread("gone", [image["id"]])
    assert unusable.status_code == 404


def _rewrite_stored_previews(database_url: str, thread_id: str, urls: list[str]) -> None:
    """Replace the preview links stored in the thread's first item (as an old row would hold)."""
    from dataclasses import replace

    from kithost.core.pagination import ListParams
    from kithost.store.threads import ThreadRepository

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            repo = ThreadRepository(engine)
            first = (await repo.list_items(thread_id, ListParams(order="asc", limit=1))).data[0]
            attachments = [
                {**attachment, "preview_url": url}
                for attachment, url in zip(first.data["attachments"], urls, strict=True)
            ]
            await repo.save_item(replace(first, data={**first.data, "attachments": attachments}))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_stored_preview_links_are_handed_out_fresh(
    chat: ChatFactory, server: KithostProcess, admin: openai.OpenAI
) -> None:
    client = uploader(chat)
    ours = client.upload("cat.png", PNG, "image/png").json()
    theirs = client.upload("dog.png", PNG, "image/png").json()
    thread_id = client.create_thread("two cats", [ours["id"], theirs["id"]]).thread_id
    expired = with_query(ours["preview_url"], expires="1")
    foreign = "https://files.example.com/dog.png"
    _rewrite_stored_previews(server.database_url, thread_id, [expired, foreign])
    assert httpx.get(expired).status_code == 404

    rest = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data[0]
    rest_links = [a["preview_url"] for a in rest.model_dump()["attachments"]]
    chat_links = [
        a["preview_url"] for a in client.get_thread(thread_id)["items"]["data"][0]["attachments"]
    ]
    for links in (rest_links, chat_links):
        # kithost's own link is signed anew on every read; a link that is not kithost's (an
        # import whose bytes stayed at the source) is left as it was.
        assert httpx.get(links[0]).content == PNG
        assert links[1] == foreign
