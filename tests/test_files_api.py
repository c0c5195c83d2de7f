"""``/v1/files`` through the official Python SDK, on both databases: upload, list (purpose,
order, cursor pages), retrieve, download rules, delete (bytes and chunks gone), and errors in
the OpenAI envelope (ids of other kinds are a 404, never a 500)."""

from __future__ import annotations

import io

import httpx
import openai
import pytest

from tests.support.documents import blob_path, query
from tests.support.process import ADMIN_KEY, KithostProcess


def test_upload_retrieve_and_list(admin: openai.OpenAI, server: KithostProcess) -> None:
    data = b"Quarterly numbers: revenue grew in the north region.\n"
    made = admin.files.create(file=("numbers.txt", io.BytesIO(data)), purpose="assistants")
    assert made.id.startswith("file-")
    assert len(made.id) == len("file-") + 22
    assert (made.object, made.bytes, made.filename, made.purpose) == (
        "file",
        len(data),
        "numbers.txt",
        "assistants",
    )
    assert made.status == "processed"
    assert admin.files.retrieve(made.id) == made
    assert blob_path(server.workdir, made.id).read_bytes() == data
    assert made.id in [f.id for f in admin.files.list(purpose="assistants")]
    assert made.id not in [f.id for f in admin.files.list(purpose="user_data")]


def test_list_pages_in_both_orders(admin: openai.OpenAI) -> None:
    made = [
        admin.files.create(file=(f"page-{n}.txt", f"page {n}".encode()), purpose="user_data").id
        for n in range(5)
    ]
    newest_first = [f.id for f in admin.files.list(purpose="user_data", limit=2)]
    assert [i for i in newest_first if i in made] == made[::-1]
    page = admin.files.list(purpose="user_data", limit=2, order="asc")
    assert page.has_more is True
    oldest_first = [f.id for f in page]  # the SDK follows `after` to the end
    assert [i for i in oldest_first if i in made] == made


def test_download_follows_openai_rules(admin: openai.OpenAI) -> None:
    mine = admin.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="user_data")
    assert admin.files.content(mine.id).read() == b"a,b\n1,2\n"
    kept = admin.files.create(file=("kb.md", b"# kb"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        admin.files.content(kept.id)
    assert "purpose: assistants" in refused.value.message


def test_delete_removes_the_bytes_and_every_chunk(
    admin: openai.OpenAI, server: KithostProcess
) -> None:
    store = admin.vector_stores.create(name="deletion")
    other = admin.vector_stores.create(name="deletion too")
    made = admin.files.create(file=("gone.md", b"The word is plovertine."), purpose="assistants")
    for target in (store, other):
        done = admin.vector_stores.files.create_and_poll(
            vector_store_id=target.id, file_id=made.id, poll_interval_ms=100
        )
        assert done.status == "completed"
    chunks = "SELECT COUNT(*) FROM vector_store_chunks WHERE file_id = :id"
    assert query(server.database_url, chunks, id=made.id) == [(2,)]
    assert blob_path(server.workdir, made.id).exists()

    deleted = admin.files.delete(made.id)
    assert (deleted.id, deleted.deleted) == (made.id, True)
    assert query(server.database_url, chunks, id=made.id) == [(0,)]
    assert not blob_path(server.workdir, made.id).exists()
    assert admin.vector_stores.search(store.id, query="plovertine").data == []
    assert admin.vector_stores.retrieve(other.id).file_counts.total == 0
    with pytest.raises(openai.NotFoundError):
        admin.files.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        admin.files.delete(made.id)


@pytest.mark.parametrize(
    "file_id",
    [
        "file-doesnotexist00000000",
        "cthr_68f0c0de0123456789abcdef0123456789abcdef01234567",
        "cksess_68f0c0de0123456789abcdef0123456789abcdef01234567",
        "vs_68f0c0de0123456789abcdef",
        "x" * 300,
    ],
)
def test_unknown_and_foreign_ids_are_404(admin: openai.OpenAI, file_id: str) -> None:
    for call in (admin.files.retrieve, admin.files.delete, admin.files.content):
        with pytest.raises(openai.NotFoundError) as missing:
            call(file_id)
        assert missing.value.body == {
            "message": f"No such File object: {file_id}",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }


def test_bad_uploads_are_400(admin: openai.OpenAI, server: KithostProcess) -> None:
    with pytest.raises(openai.BadRequestError) as purpose:
        admin.files.create(file=("x.txt", b"x"), purpose="fine-tune")
    assert purpose.value.param == "purpose"
    assert purpose.value.code == "invalid_value"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    no_file = httpx.post(f"{server.url}/v1/files", headers=headers, data={"purpose": "assistants"})
    assert no_file.status_code == 400
    assert no_file.json()["error"]["param"] == "file"
    assert no_file.json()["error"]["code"] == "missing_required_parameter"
    no_purpose = httpx.post(f"{server.url}/v1/files", headers=headers, files={"file": b"x"})
    assert no_purpose.json()["error"]["param"] == "purpose"
    json_body = httpx.post(f"{server.url}/v1/files", headers=headers, json={"file": "x"})
    assert json_body.status_code == 400
    assert json_body.headers["x-request-id"].startswith("req_")


def test_the_admin_key_is_required_and_no_beta_header(server: KithostProcess) -> None:
    anonymous = httpx.get(f"{server.url}/v1/files")
    assert anonymous.status_code == 401
    assert set(anonymous.json()["error"]) == {"message", "type", "param", "code"}
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.files.list()
    # The SDK sends no ChatKit beta header here; plain HTTP without one works too.
    plain = httpx.get(f"{server.url}/v1/files", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert plain.status_code == 200
    assert plain.json()["object"] == "list"
