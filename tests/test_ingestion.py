"""Ingestion of real files of every type through the official SDK, on both databases: text,
Markdown, HTML, JSON, CSV, PDF and DOCX end ``completed`` and are found by what they say; bad
files end ``failed`` with a clear ``last_error``; a server killed mid-ingestion leaves the file
to the next process, which finishes it once."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.support.databases import fresh_database
from tests.support.documents import (
    csv_bytes,
    docx_bytes,
    encrypted_pdf_bytes,
    filler,
    html_bytes,
    json_bytes,
    pdf_bytes,
    query,
)
from tests.support.fake_model import FakeModelServer, delayed
from tests.support.process import ADMIN_KEY, KithostProcess

# One made-up word per file type: found only in that file, by a search for it.
GOOD_FILES: dict[str, tuple[str, bytes]] = {
    "txt": ("notes.txt", b"Plain notes. The courier code is zorbexa for the night shift.\n"),
    "md": ("guide.md", b"# Guide\n\n## Returns\n\nAsk for form **quillomat** at the desk.\n"),
    "html": (
        "page.html",
        html_bytes("Opening hours", "The kiosk named vandrelle opens at nine.", "scriptonly"),
    ),
    "json": (
        "catalog.json",
        json_bytes({"items": [{"sku": "A-1", "name": "plumbrack bracket", "price": 4.5}]}),
    ),
    "csv": (
        "prices.csv",
        csv_bytes([["sku", "name", "price"], ["B-2", "trellimax hinge", "7.25"]]),
    ),
    "pdf": (
        "manual.pdf",
        pdf_bytes(["Page one: setup.", "Page two: reset the unit with the glimmerton key."]),
    ),
    "docx": (
        "handbook.docx",
        docx_bytes(
            ["Welcome to the team.", "Badges are collected from the frostwick office."],
            table=[["Room", "Owner"], ["B12", "hallowmere"]],
        ),
    ),
}
# How long the fake holds the first embedding call of the restart tests: far longer than
# stopping a server takes, so the file is surely still in progress when it stops.
STALL_SECONDS = 30.0

MARKERS = {
    "txt": "zorbexa",
    "md": "quillomat",
    "html": "vandrelle",
    "json": "plumbrack",
    "csv": "trellimax",
    "pdf": "glimmerton",
    "docx": "frostwick",
}


def upload(client: openai.OpenAI, store_id: str, name: str, data: bytes) -> object:
    return client.vector_stores.files.upload_and_poll(
        vector_store_id=store_id, file=(name, io.BytesIO(data)), poll_interval_ms=100
    )


def test_every_supported_type_is_ingested_and_found(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="every type")
    ids = {}
    for kind, (name, data) in GOOD_FILES.items():
        result = upload(admin, store.id, name, data)
        assert result.status == "completed", (kind, result.last_error)
        assert result.last_error is None
        assert result.usage_bytes > 0
        ids[kind] = result.id
    for kind, marker in MARKERS.items():
        hits = admin.vector_stores.search(store.id, query=marker).data
        assert [hit.file_id for hit in hits] == [ids[kind]], kind
        assert hits[0].filename == GOOD_FILES[kind][0]
        assert marker in hits[0].content[0].text.lower()
    # The DOCX table's cells and the PDF's second page are text like any other.
    assert [h.file_id for h in admin.vector_stores.search(store.id, query="hallowmere").data] == [
        ids["docx"]
    ]
    # HTML: scripts and styles are not text; the title is.
    assert admin.vector_stores.search(store.id, query="scriptonly").data == []
    html = admin.vector_stores.search(store.id, query="opening hours kiosk").data
    assert html[0].file_id == ids["html"]
    assert html[0].content[0].text.startswith("Opening hours")
    final = admin.vector_stores.retrieve(store.id)
    assert final.file_counts.completed == len(GOOD_FILES)
    assert final.status == "completed"


BAD_FILES = [
    ("empty.txt", b"   \n\n", "invalid_file", "contains no text"),
    ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "unsupported_file", "binary"),
    ("broken.pdf", b"%PDF-1.7\n this is not really a pdf \x00\x01", "invalid_file", "PDF"),
    ("locked.pdf", encrypted_pdf_bytes("hidden words"), "invalid_file", "password-protected"),
    ("scan.pdf", pdf_bytes([""]), "invalid_file", "no text layer"),
    ("fake.docx", b"just text pretending", "invalid_file", "not one"),
    ("archive.zip", docx_bytes(["x"])[:30] + bytes(10), "unsupported_file", "not a Word"),
    ("cut.docx", docx_bytes(["x"])[:200], "invalid_file", "could not be read as a Word"),
    ("bad.json", b'{"open": [1, 2', "invalid_file", "not valid JSON"),
]


@pytest.mark.parametrize(
    ("name", "data", "code", "words"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_fail_with_a_clear_last_error(
    admin: openai.OpenAI, name: str, data: bytes, code: str, words: str
) -> None:
    store = admin.vector_stores.create(name=f"bad {name}")
    result = upload(admin, store.id, name, data)
    assert result.status == "failed"
    assert result.last_error is not None
    assert result.last_error.code == code
    assert words in result.last_error.message
    assert name in result.last_error.message
    counts = admin.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.completed, counts.in_progress) == (1, 0, 0)


def test_text_in_other_encodings_is_read(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="encodings")
    latin = upload(
        admin, store.id, "latin.txt", "Café déjà vu: the password is crèmebrûlée.".encode("cp1252")
    )
    utf16 = upload(admin, store.id, "wide.txt", "Wide text mentions pemberlyx.".encode("utf-16"))
    assert (latin.status, utf16.status) == ("completed", "completed")
    hits = admin.vector_stores.search(store.id, query="pemberlyx").data
    assert [hit.file_id for hit in hits] == [utf16.id]
    hits = admin.vector_stores.search(store.id, query="déjà").data
    assert [hit.file_id for hit in hits] == [latin.id]


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _file_row(url: str, file_id: str, columns: str) -> tuple[object, ...]:
    sql = f"SELECT {columns} FROM vector_store_files WHERE id = :id"  # noqa: S608 - constants
    [row] = query(url, sql, id=file_id)
    return row


def _slow_provider_env(fake: FakeModelServer, **env: str) -> dict[str, str]:
    """A server that embeds its chunks with the fake, whose first embedding call takes
    ``STALL_SECONDS``: ingestion is then surely mid-file while the test stops the server,
    whatever the machine's load, without a file big enough to keep the CPU busy."""
    fake.reset()
    fake.when(lambda request: request.api == "embeddings", delayed(STALL_SECONDS), times=1)
    return {
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "test",
        "KITHOST_EMBEDDING_MODEL": "text-embedding-3-small",
        **env,
    }


def _stalled_on_embeddings(fake: FakeModelServer) -> bool:
    return any(request.api == "embeddings" for request in fake.requests)


def test_a_file_left_by_a_killed_server_is_finished_by_the_next_process(
    backend: str,
    tmp_path: Path,
    start_kithost: Callable[..., KithostProcess],
    fake: FakeModelServer,
) -> None:
    """SIGKILL while a file is being ingested; a second process on the same database
    takes the lapsed lease, starts the file again and finishes it once (no duplicate chunks)."""
    # Processes sharing a database share the data directory too (the files' bytes).
    env = _slow_provider_env(
        fake, KITHOST_INGESTION_LEASE_SECONDS="2", KITHOST_DATA_DIR=str(tmp_path / "data")
    )
    with fresh_database(backend, tmp_path) as url:
        first = start_kithost(url, **env)
        with openai.OpenAI(base_url=f"{first.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
            store = sdk.vector_stores.create(name="restart")
            # Many chunks (so several batches), with a marker at the very end.
            body = filler(40_000, seed=7) + " The last line names the ossifrage."
            uploaded = sdk.files.create(file=("big.txt", body.encode()), purpose="assistants")
            sdk.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)

        _wait(lambda: _stalled_on_embeddings(fake), "the first server to embed the first chunks")
        assert first.proc is not None
        (owner,) = _file_row(url, uploaded.id, "lease_owner")
        assert f":{first.proc.pid}:" in str(owner)
        first.kill()
        (status,) = _file_row(url, uploaded.id, "status")
        assert status == "in_progress"
        # The first server had stored its first batch of chunks before it was stuck embedding.
        [(left_behind,)] = query(
            url, "SELECT COUNT(*) FROM vector_store_chunks WHERE file_id = :id", id=uploaded.id
        )
        assert left_behind > 0

        second = start_kithost(url, **env)
        with openai.OpenAI(base_url=f"{second.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
            done = sdk.vector_stores.files.poll(
                uploaded.id, vector_store_id=store.id, poll_interval_ms=200
            )
            assert done.status == "completed", done.last_error
            hits = sdk.vector_stores.search(store.id, query="ossifrage").data
            assert hits[0].file_id == uploaded.id
            assert "ossifrage" in hits[0].content[0].text
        [(total, distinct, highest, attempts)] = query(
            url,
            "SELECT COUNT(*), COUNT(DISTINCT c.chunk_index), MAX(c.chunk_index), f.attempts "
            "FROM vector_store_chunks c JOIN vector_store_files f "
            "ON f.id = c.file_id AND f.vector_store_id = c.vector_store_id "
            "WHERE c.file_id = :id GROUP BY f.attempts",
            id=uploaded.id,
        )
        assert total == distinct == highest + 1
        assert attempts == 2


def test_a_server_stopped_mid_ingestion_hands_the_file_back(
    backend: str,
    tmp_path: Path,
    start_kithost: Callable[..., KithostProcess],
    fake: FakeModelServer,
) -> None:
    """SIGTERM (a deploy) while a file is being ingested: the server gives the file back as it
    stops, so the restarted server takes it at once (the default 30 s lease never runs out)
    and the interrupted attempt does not count against the file."""
    env = _slow_provider_env(fake)
    with fresh_database(backend, tmp_path) as url:
        server = start_kithost(url, **env)
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
            store = sdk.vector_stores.create(name="graceful")
            body = filler(40_000, seed=8) + " Closing words about the bittern."
            uploaded = sdk.files.create(file=("big.txt", body.encode()), purpose="assistants")
            sdk.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)
        _wait(lambda: _stalled_on_embeddings(fake), "the server to embed the first chunks")
        stopping = time.monotonic()
        server.stop()
        # Stopped at once (the stalled call is cut, not waited for), the file given back.
        assert time.monotonic() - stopping < STALL_SECONDS
        assert _file_row(url, uploaded.id, "status, lease_owner") == ("in_progress", None)

        server.start()
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
            done = sdk.vector_stores.files.poll(
                uploaded.id, vector_store_id=store.id, poll_interval_ms=200
            )
            assert done.status == "completed", done.last_error
            hits = sdk.vector_stores.search(store.id, query="bittern").data
            assert hits[0].file_id == uploaded.id
            assert "bittern" in hits[0].content[0].text
        assert _file_row(url, uploaded.id, "attempts") == (1,)
