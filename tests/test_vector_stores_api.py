"""``/v1/vector_stores…`` through the official Python SDK, on both databases: stores, their
files and batches, chunking, search quality, attribute filters, ranking options, deletion,
and errors in the OpenAI envelope (ids of other kinds are a 404, never a 500)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.documents import filler, query
from tests.support.process import ADMIN_KEY, KithostProcess

FOREIGN_IDS = [
    "cthr_68f0c0de0123456789abcdef0123456789abcdef01234567",
    "cksess_68f0c0de0123456789abcdef0123456789abcdef01234567",
    "file-AbCdEfGhIjKlMnOpQrStUv",
    "vs_68f0c0de0123456789abcdef",
]
STATIC_100 = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}


def add_text(client: openai.OpenAI, store_id: str, name: str, text: str, **fields: Any) -> Any:
    uploaded = client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants")
    done = client.vector_stores.files.create_and_poll(
        vector_store_id=store_id, file_id=uploaded.id, poll_interval_ms=100, **fields
    )
    assert done.status == "completed", done.last_error
    return done


def test_store_lifecycle(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(
        name="handbook",
        metadata={"team": "support"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    assert store.id.startswith("vs_")
    assert (store.object, store.name, store.metadata, store.status) == (
        "vector_store",
        "handbook",
        {"team": "support"},
        "completed",
    )
    assert store.expires_after is not None
    assert store.expires_after.days == 7
    assert store.expires_at == store.last_active_at + 7 * 86400
    assert (store.file_counts.total, store.usage_bytes) == (0, 0)
    assert admin.vector_stores.retrieve(store.id) == store

    renamed = admin.vector_stores.update(store.id, name="handbook v2", expires_after=None)
    assert (renamed.name, renamed.metadata, renamed.expires_after) == (
        "handbook v2",
        {"team": "support"},
        None,
    )
    assert renamed.expires_at is None
    cleared = admin.vector_stores.update(store.id, metadata={})
    assert (cleared.name, cleared.metadata) == ("handbook v2", {})

    deleted = admin.vector_stores.delete(store.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (
        store.id,
        "vector_store.deleted",
        True,
    )
    with pytest.raises(openai.NotFoundError):
        admin.vector_stores.retrieve(store.id)


def test_list_pages_in_both_orders(admin: openai.OpenAI) -> None:
    made = [admin.vector_stores.create(name=f"paged {n}").id for n in range(5)]
    newest = [s.id for s in admin.vector_stores.list(limit=2) if s.id in made]
    assert newest == made[::-1]
    oldest = [s.id for s in admin.vector_stores.list(limit=2, order="asc") if s.id in made]
    assert oldest == made
    page = admin.vector_stores.list(limit=2, order="asc", after=made[0])
    assert [s.id for s in page.data][:2] == made[1:3]
    assert page.has_more is True


def test_store_created_with_files_and_counts(admin: openai.OpenAI) -> None:
    ids = [
        admin.files.create(file=(f"f{n}.txt", f"text number {n}".encode()), purpose="assistants").id
        for n in range(3)
    ]
    store = admin.vector_stores.create(name="with files", file_ids=ids)
    assert store.file_counts.total == 3
    for file_id in ids:
        admin.vector_stores.files.poll(file_id, vector_store_id=store.id, poll_interval_ms=100)
    after = admin.vector_stores.retrieve(store.id)
    assert after.file_counts.completed == 3
    assert after.status == "completed"
    assert after.usage_bytes == sum(len(f"text number {n}") for n in range(3))
    listed = list(admin.vector_stores.files.list(store.id, limit=2, order="asc"))
    assert [item.id for item in listed] == ids
    assert all(item.object == "vector_store.file" for item in listed)
    assert list(admin.vector_stores.files.list(store.id, filter="failed")) == []


def test_file_in_store_lifecycle(admin: openai.OpenAI, server: KithostProcess) -> None:
    store = admin.vector_stores.create(name="attributes")
    done = add_text(
        admin,
        store.id,
        "a.md",
        filler(600, seed=1),
        attributes={"region": "eu", "year": 2024, "public": True},
        chunking_strategy=STATIC_100,
    )
    assert done.attributes == {"region": "eu", "year": 2024, "public": True}
    assert done.chunking_strategy is not None
    assert done.chunking_strategy.type == "static"
    assert done.chunking_strategy.static.max_chunk_size_tokens == 100
    count = "SELECT COUNT(*), MAX(token_count) FROM vector_store_chunks WHERE file_id = :id"
    [(chunks, biggest)] = query(server.database_url, count, id=done.id)
    assert chunks >= 6
    assert biggest <= 100

    # Adding it again is harmless: the same entry, no new chunks.
    again = admin.vector_stores.files.create(vector_store_id=store.id, file_id=done.id)
    assert (again.id, again.status) == (done.id, "completed")
    assert query(server.database_url, count, id=done.id) == [(chunks, biggest)]
    assert admin.vector_stores.retrieve(store.id).file_counts.total == 1

    updated = admin.vector_stores.files.update(
        done.id, vector_store_id=store.id, attributes={"region": "us"}
    )
    assert updated.attributes == {"region": "us"}
    content = admin.vector_stores.files.content(done.id, vector_store_id=store.id)
    assert len(list(content)) == chunks

    removed = admin.vector_stores.files.delete(done.id, vector_store_id=store.id)
    assert (removed.id, removed.object, removed.deleted) == (
        done.id,
        "vector_store.file.deleted",
        True,
    )
    assert query(server.database_url, count, id=done.id)[0][0] == 0
    # The file itself stays (as on OpenAI), and can be added again.
    assert admin.files.retrieve(done.id).id == done.id
    with pytest.raises(openai.NotFoundError):
        admin.vector_stores.files.retrieve(done.id, vector_store_id=store.id)


def test_deleting_a_store_removes_its_chunks(admin: openai.OpenAI, server: KithostProcess) -> None:
    store = admin.vector_stores.create(name="doomed")
    done = add_text(admin, store.id, "d.txt", "Doomed words: wolverhampshire.")
    admin.vector_stores.delete(store.id)
    count = "SELECT COUNT(*) FROM vector_store_chunks WHERE vector_store_id = :id"
    assert query(server.database_url, count, id=store.id) == [(0,)]
    files = "SELECT COUNT(*) FROM vector_store_files WHERE vector_store_id = :id"
    assert query(server.database_url, files, id=store.id) == [(0,)]
    assert admin.files.retrieve(done.id).id == done.id


@pytest.mark.parametrize(
    ("strategy", "param"),
    [
        ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": -1}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "semantic"}, "chunking_strategy.type"),
        ({"type": "static"}, "chunking_strategy.static"),
    ],
)  # fmt: skip
def test_chunking_bounds_are_checked(
    admin: openai.OpenAI, strategy: dict[str, Any], param: str
) -> None:
    store = admin.vector_stores.create(name="bounds")
    uploaded = admin.files.create(file=("b.txt", b"bounds"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        admin.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=uploaded.id,
            chunking_strategy=strategy,  # type: ignore[arg-type]
        )
    assert refused.value.param == param
    assert list(admin.vector_stores.files.list(store.id)) == []


def test_batches(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="batches")
    ids = [
        admin.files.create(file=(f"b{n}.txt", f"batch text {n}".encode()), purpose="assistants").id
        for n in range(3)
    ]
    batch = admin.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=ids[:2], attributes={"kind": "shared"},
        poll_interval_ms=100,
    )  # fmt: skip
    assert batch.id.startswith("vsfb_")
    assert (batch.object, batch.status) == ("vector_store.files_batch", "completed")
    assert (batch.file_counts.completed, batch.file_counts.total) == (2, 2)
    listed = admin.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert sorted(item.id for item in listed) == sorted(ids[:2])
    assert all(item.attributes == {"kind": "shared"} for item in listed)

    own = admin.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id,
        files=[{"file_id": ids[2], "attributes": {"kind": "own"}}],
        poll_interval_ms=100,
    )
    assert own.status == "completed"
    [item] = admin.vector_stores.file_batches.list_files(own.id, vector_store_id=store.id)
    assert item.attributes == {"kind": "own"}
    assert admin.vector_stores.file_batches.retrieve(own.id, vector_store_id=store.id) == own
    uploaded = admin.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[("u1.txt", io.BytesIO(b"uploaded one")), ("u2.txt", io.BytesIO(b"uploaded two"))],
        poll_interval_ms=100,
    )
    assert uploaded.file_counts.completed == 2
    assert admin.vector_stores.retrieve(store.id).file_counts.completed == 5
    with pytest.raises(openai.BadRequestError):
        admin.vector_stores.file_batches.create(
            vector_store_id=store.id, file_ids=[ids[0]], files=[{"file_id": ids[1]}]
        )
    with pytest.raises(openai.NotFoundError):
        admin.vector_stores.file_batches.create(
            vector_store_id=store.id, file_ids=["file-doesnotexist000000000"]
        )


def test_search_finds_the_one_chunk_that_matches(admin: openai.OpenAI) -> None:
    """Twenty files of the same kind of prose, each cut in small chunks; one sentence, in one
    chunk of one file, is the only text with these words."""
    store = admin.vector_stores.create(name="needle")
    needle = "The badger protocol needs two signatures from the harbour master."
    target = None
    for n in range(20):
        text = filler(1200, seed=100 + n)
        if n == 13:
            middle = len(text) // 2
            cut = text.index(". ", middle) + 2
            text = text[:cut] + needle + " " + text[cut:]
        done = add_text(admin, store.id, f"doc-{n:02d}.txt", text, chunking_strategy=STATIC_100)
        if n == 13:
            target = done.id
    results = admin.vector_stores.search(store.id, query="badger protocol harbour signatures")
    assert len(results.data) >= 1
    best = results.data[0]
    assert (best.file_id, best.filename) == (target, "doc-13.txt")
    assert "badger protocol" in best.content[0].text
    assert best.content[0].type == "text"
    assert best.score == 1.0
    # Every other hit is the needle's neighbour chunk, never another file.
    assert {hit.file_id for hit in results.data} == {target}

    several = admin.vector_stores.search(store.id, query=["badger", "harbour master"])
    assert several.data[0].file_id == target
    raw = httpx.post(
        f"{admin.base_url}vector_stores/{store.id}/search",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json={"query": "badger protocol", "rewrite_query": True},
    ).json()
    assert raw["object"] == "vector_store.search_results.page"
    assert raw["search_query"] == ["badger protocol"]
    assert raw["search_mode"] == "keyword"
    assert raw["has_more"] is False

    common = admin.vector_stores.search(store.id, query="customer invoice", max_num_results=7)
    assert len(common.data) == 7
    scores = [hit.score for hit in common.data]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)
    strict = admin.vector_stores.search(
        store.id, query="customer invoice", ranking_options={"score_threshold": 0.999}
    )
    assert 1 <= len(strict.data) < 7
    assert admin.vector_stores.search(store.id, query="xylophonic").data == []


def test_filters_on_attributes(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="filters")
    attrs = {
        "eu-2023": {"region": "eu", "year": 2023, "public": True},
        "eu-2024": {"region": "eu", "year": 2024, "public": False},
        "us-2024": {"region": "us", "year": 2024, "public": True},
        "none": {},
    }
    ids = {
        name: add_text(admin, store.id, f"{name}.txt", "Shared words about the pelican.",
                       attributes=values).id
        for name, values in attrs.items()
    }  # fmt: skip

    def found(filters: dict[str, Any]) -> set[str]:
        hits = admin.vector_stores.search(store.id, query="pelican", filters=filters).data  # type: ignore[arg-type]
        names = {name for name, file_id in ids.items() if file_id in {h.file_id for h in hits}}
        return names

    assert found({"type": "eq", "key": "region", "value": "eu"}) == {"eu-2023", "eu-2024"}
    assert found({"type": "ne", "key": "region", "value": "eu"}) == {"us-2024", "none"}
    assert found({"type": "gte", "key": "year", "value": 2024}) == {"eu-2024", "us-2024"}
    assert found({"type": "lt", "key": "year", "value": 2024}) == {"eu-2023"}
    assert found({"type": "eq", "key": "public", "value": True}) == {"eu-2023", "us-2024"}
    assert found({"type": "in", "key": "region", "value": ["us", "apac"]}) == {"us-2024"}
    assert found({"type": "nin", "key": "region", "value": ["eu"]}) == {"us-2024", "none"}
    both = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "region", "value": "eu"},
            {"type": "gt", "key": "year", "value": 2023},
        ],
    }
    assert found(both) == {"eu-2024"}
    either = {
        "type": "or",
        "filters": [both, {"type": "eq", "key": "region", "value": "us"}],
    }
    assert found(either) == {"eu-2024", "us-2024"}
    assert found({"type": "eq", "key": "region", "value": "mars"}) == set()

    for bad, param in [
        ({"type": "approx", "key": "year", "value": 1}, "filters.type"),
        ({"type": "eq", "value": 1}, "filters.key"),
        ({"type": "in", "key": "year", "value": 2024}, "filters.value"),
        ({"type": "and", "filters": []}, "filters.filters"),
        ({"type": "or", "filters": [{"type": "eq", "key": "k"}]}, "filters.filters[0].value"),
    ]:
        with pytest.raises(openai.BadRequestError) as refused:
            admin.vector_stores.search(store.id, query="pelican", filters=bad)  # type: ignore[arg-type]
        assert refused.value.param == param


def test_search_input_is_checked(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="checks")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"query": "x", "max_num_results": 0}, "max_num_results"),
        ({"query": "x", "max_num_results": 51}, "max_num_results"),
        ({"query": "   "}, "query"),
        ({"query": []}, "query"),
        ({"query": "x", "ranking_options": {"score_threshold": 1.5}},
         "ranking_options.score_threshold"),
        ({"query": "x", "ranking_options": {"ranker": "best"}}, "ranking_options.ranker"),
        ({"query": "x", "colour": "blue"}, "colour"),
    ]  # fmt: skip
    for body, param in cases:
        response = httpx.post(
            f"{admin.base_url}vector_stores/{store.id}/search",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            json=body,
        )
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["param"] == param, body
        assert error["type"] == "invalid_request_error"


def test_store_input_is_checked(admin: openai.OpenAI) -> None:
    too_many = {f"k{n}": "v" for n in range(17)}
    with pytest.raises(openai.BadRequestError) as refused:
        admin.vector_stores.create(name="x", metadata=too_many)
    assert refused.value.param == "metadata"
    with pytest.raises(openai.BadRequestError) as refused:
        admin.vector_stores.create(name="x", expires_after={"anchor": "last_active_at", "days": 0})
    assert refused.value.param == "expires_after.days"
    with pytest.raises(openai.NotFoundError):
        admin.vector_stores.create(name="x", file_ids=["file-doesnotexist000000000"])
    store = admin.vector_stores.create(name="x")
    uploaded = admin.files.create(file=("a.txt", b"a"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        admin.vector_stores.files.create(
            vector_store_id=store.id, file_id=uploaded.id, attributes={"k": "v" * 513}
        )
    assert refused.value.param == "attributes.k"


@pytest.mark.parametrize("foreign", FOREIGN_IDS)
def test_ids_of_other_kinds_are_404(admin: openai.OpenAI, foreign: str) -> None:
    store = admin.vector_stores.create(name="foreign")
    calls = [
        lambda: admin.vector_stores.retrieve(foreign),
        lambda: admin.vector_stores.update(foreign, name="x"),
        lambda: admin.vector_stores.delete(foreign),
        lambda: admin.vector_stores.search(foreign, query="x"),
        lambda: admin.vector_stores.files.list(foreign),
        lambda: admin.vector_stores.files.retrieve(foreign, vector_store_id=store.id),
        lambda: admin.vector_stores.files.delete(foreign, vector_store_id=store.id),
        lambda: admin.vector_stores.files.create(vector_store_id=store.id, file_id=foreign),
        lambda: admin.vector_stores.file_batches.retrieve(foreign, vector_store_id=store.id),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as missing:
            call()
        body = missing.value.body
        assert isinstance(body, dict)
        assert set(body) == {"message", "type", "param", "code"}
        assert body["type"] == "invalid_request_error"


NODE_SUITE = Path(__file__).parent / "node" / "vector_stores.suite.mjs"
NODE_TESTS = 5  # the suite's size when written: fewer means tests went missing


@pytest.mark.node
def test_npm_sdk_conformance(server: KithostProcess, tmp_path: Path) -> None:
    """The same API through the official npm SDK (``tests/node/vector_stores.suite.mjs``)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js 20+ is required for the npm SDK suite: `node` is not on PATH.")
    sdk = NODE_SUITE.parent / "node_modules" / "openai" / "package.json"
    assert sdk.is_file(), f"{sdk} is missing: run `npm ci` in tests/node (`make test` does)."
    seed_file = tmp_path / "seed.json"
    seed_file.write_text("{}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    env.update(
        KITHOST_BASE_URL=server.url,
        KITHOST_API_KEY=ADMIN_KEY,
        KITHOST_SEED_FILE=str(seed_file),
        NO_COLOR="1",
    )
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(NODE_SUITE)],
        cwd=NODE_SUITE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
        f"--- server log ---\n{server.log_path.read_text()}"
    )
    summary = dict(
        re.findall(r"^\u2139 (tests|pass|fail|cancelled|skipped|todo) (\d+)$", result.stdout, re.M)
    )
    assert int(summary.get("tests", 0)) >= NODE_TESTS, result.stdout
    assert summary["pass"] == summary["tests"], result.stdout
