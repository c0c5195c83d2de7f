"""Hybrid search: vectors from the provider's ``/v1/embeddings``, stored and ranked in kithost's
database, fused with the keyword ranking.

Every test runs on SQLite (sqlite-vec), on this machine's PostgreSQL (no pgvector: similarity
computed in the process) and on an embedded PostgreSQL with pgvector (HNSW), against a real
kithost driven by the official SDK. The fake model's embeddings are deterministic (a hashed bag
of words), so the tests compute the ranking the vectors must give and compare.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from tests.support.databases import fresh_database
from tests.support.documents import VOCABULARY, filler, query
from tests.support.fake_model import FakeModelServer, error
from tests.support.fake_model.embeddings import vector
from tests.support.pgvector_server import PgVectorServer, pgvector_server
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.workflow_files import admin_client, kithost_env, serving, wait_until

EMBEDDING_MODEL = "text-embedding-3-small"
SERVED_AS = "fake-embed-v1"  # what the alias sends to the provider
# Long enough that the words of these tests never share a coordinate of the fake's vectors
# with the filler prose's (``disjoint`` checks it): what is unrelated is orthogonal, as with a
# real model.
DIMENSIONS = 1024
BATCH_SIZE = 8
STATIC_100 = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
KINDS = ("sqlite", "postgresql", "pgvector")


@pytest.fixture(scope="module")
def pgvector() -> Iterator[PgVectorServer]:
    with pgvector_server() as server:
        yield server


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def database_url(
    kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if kind == "pgvector":
        server: PgVectorServer = request.getfixturevalue("pgvector")
        with server.fresh_database() as url:
            yield url
        return
    with fresh_database(kind, tmp_path_factory.mktemp(kind)) as url:
        yield url


def vector_env(fake: FakeModelServer, folder: Path, **env: str) -> dict[str, str]:
    return kithost_env(
        fake.base_url,
        "chat_completions",
        folder,
        KITHOST_EMBEDDING_MODEL=EMBEDDING_MODEL,
        KITHOST_MODEL_ALIASES=f"{EMBEDDING_MODEL}={SERVED_AS}",
        KITHOST_EMBEDDING_DIMENSIONS=str(DIMENSIONS),
        KITHOST_EMBEDDING_BATCH_SIZE=str(BATCH_SIZE),
        **env,
    )


@pytest.fixture(scope="module")
def kithost(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("vectors")
    with serving(database_url, workdir, vector_env(fake, workdir / "workflows")) as process:
        yield process


@pytest.fixture
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModelServer) -> None:
    fake.reset()


def add_text(client: openai.OpenAI, store_id: str, name: str, text: str, **fields: Any) -> Any:
    uploaded = client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants")
    done = client.vector_stores.files.create_and_poll(
        vector_store_id=store_id, file_id=uploaded.id, poll_interval_ms=100, **fields
    )
    assert done.status == "completed", done.last_error
    return done


def raw_search(kithost: KithostProcess, store_id: str, **body: Any) -> dict[str, Any]:
    """The search page as JSON, with kithost's ``search_mode`` extension."""
    response = httpx.post(
        f"{kithost.url}/v1/vector_stores/{store_id}/search",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json=body,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def cosine(a: str, b: str) -> float:
    left, right = np.array(vector(a, DIMENSIONS)), np.array(vector(b, DIMENSIONS))
    return float(left @ right)


def disjoint(words: str, other: str) -> bool:
    """Whether the fake's vectors of two texts share no coordinate (cosine exactly 0)."""
    left, right = np.array(vector(words, DIMENSIONS)), np.array(vector(other, DIMENSIONS))
    return not bool(np.any((left != 0) & (right != 0)))


VECTORS_ONLY = {"hybrid_search": {"text_weight": 0, "embedding_weight": 1}}


# --- at start ---------------------------------------------------------------------------------


def test_the_start_says_how_vectors_are_searched(kithost: KithostProcess, kind: str) -> None:
    banner = kithost.log_path.read_text(errors="replace")
    how = {
        "sqlite": r"sqlite-vec v\d+\.\d+\.\d+",
        "postgresql": re.escape(
            "exact similarity in process (the pgvector extension is not installed on this "
            "PostgreSQL)"
        ),
        "pgvector": r"pgvector \d+\.\d+\.\d+ \(HNSW\)",
    }[kind]
    line = rf"File search: hybrid search: {how}, embeddings from {EMBEDDING_MODEL} → {SERVED_AS}\."
    assert re.search(line, banner), banner


# --- ranking ----------------------------------------------------------------------------------


def test_vector_ranking_is_the_cosine_of_the_models_vectors(
    admin: openai.OpenAI, kithost: KithostProcess, fake: FakeModelServer
) -> None:
    """Short files (one chunk each): with the keyword ranking weighted 0, the order is the
    cosine similarity of the fake model's vectors, which the test computes itself."""
    texts = {
        "repeated.txt": "apple " * 30 + "banana",
        "all-three.txt": "apple banana cherry " + " ".join(f"word{n}" for n in range(40)),
        "two.txt": "banana cherry",
        "one.txt": "cherry orchard in spring time",
        "unrelated.txt": "zucchini soup recipe with garlic",
        "half.txt": "apple tart and banana bread",
    }
    store = admin.vector_stores.create(name="cosine")
    ids = {add_text(admin, store.id, name, text).id: name for name, text in texts.items()}
    question = "apple banana cherry"
    expected = sorted(texts, key=lambda name: cosine(question, texts[name]), reverse=True)
    similarities = [cosine(question, texts[name]) for name in expected]
    assert len(set(similarities)) == len(similarities)  # no ties: the order is decided

    page = raw_search(kithost, store.id, query=question, ranking_options=VECTORS_ONLY)
    assert page["search_mode"] == "hybrid"
    assert [ids[hit["file_id"]] for hit in page["data"]] == expected
    # The query went to the provider under the alias, with the configured length.
    embedded = [r for r in fake.requests if r.api == "embeddings"][-1]
    assert embedded.body["input"] == [question]
    assert (embedded.model, embedded.body["dimensions"]) == (SERVED_AS, DIMENSIONS)

    # Default weights fuse both rankings: the keyword matches all come (the vectors rank every
    # file, the keywords only those with a query word), scored in (0, 1], best first.
    fused = admin.vector_stores.search(store.id, query=question)
    names = [ids[hit.file_id] for hit in fused.data]
    assert set(names) == set(texts)
    assert names.index("unrelated.txt") == len(names) - 1
    scores = [hit.score for hit in fused.data]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_the_one_matching_chunk_among_many_files(admin: openai.OpenAI) -> None:
    """Twenty files of the same prose in small chunks; one sentence in one chunk of one file
    is the only text with these words: it comes first, with its file, in hybrid mode."""
    store = admin.vector_stores.create(name="needle")
    needle = "The zebra migration crosses the Mara river every August."
    assert disjoint(needle, " ".join(VOCABULARY))  # the test's design: see DIMENSIONS
    target = None
    for n in range(20):
        text = filler(1000, seed=300 + n)
        if n == 7:
            cut = text.index(". ", len(text) // 2) + 2
            text = text[:cut] + needle + " " + text[cut:]
        done = add_text(admin, store.id, f"doc-{n:02d}.txt", text, chunking_strategy=STATIC_100)
        if n == 7:
            target = done.id
    for question in ("zebra migration Mara river", ["zebra migration", "Mara river August"]):
        results = admin.vector_stores.search(store.id, query=question)
        best = results.data[0]
        assert (best.file_id, best.filename) == (target, "doc-07.txt")
        assert "zebra migration crosses the Mara river" in best.content[0].text
        assert best.score == pytest.approx(1.0)
    # Only the vectors: the same chunk is nearest.
    nearest = admin.vector_stores.search(
        store.id, query="zebra migration Mara river", ranking_options=VECTORS_ONLY
    )
    assert "zebra migration" in nearest.data[0].content[0].text


def test_filters_hold_for_the_vector_ranking(admin: openai.OpenAI) -> None:
    store = admin.vector_stores.create(name="filtered")
    for n in range(6):
        lang = "fr" if n % 3 == 0 else "en"
        add_text(
            admin,
            store.id,
            f"guide-{n}.txt",
            f"Shipping guide number {n}. {filler(60, seed=n)}",
            attributes={"lang": lang, "edition": n},
        )
    french = {"type": "eq", "key": "lang", "value": "fr"}
    found = admin.vector_stores.search(
        store.id, query="shipping guide", filters=french, ranking_options=VECTORS_ONLY
    )
    assert sorted(hit.filename for hit in found.data) == ["guide-0.txt", "guide-3.txt"]
    recent_english = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "lang", "value": "en"},
            {"type": "gte", "key": "edition", "value": 4},
        ],
    }
    found = admin.vector_stores.search(store.id, query="shipping guide", filters=recent_english)
    assert sorted(hit.filename for hit in found.data) == ["guide-4.txt", "guide-5.txt"]
    nothing = {"type": "eq", "key": "lang", "value": "de"}
    assert admin.vector_stores.search(store.id, query="shipping", filters=nothing).data == []


# --- ingestion, deletion, failures ------------------------------------------------------------


def vector_rows(database_url: str, file_id: str) -> tuple[int, int, set[int]]:
    """(chunks, vectors, vector lengths) of a file, straight from the database."""
    chunks = query(database_url, "SELECT id FROM vector_store_chunks WHERE file_id = :f", f=file_id)
    vectors = query(
        database_url,
        "SELECT e.dimensions FROM chunk_embeddings e JOIN vector_store_chunks c "
        "ON c.id = e.chunk_id WHERE c.file_id = :f",
        f=file_id,
    )
    return len(chunks), len(vectors), {row[0] for row in vectors}


def count_of(database_url: str, table: str, chunk_ids: list[int]) -> int:
    """Rows of ``table`` (chunk_embeddings, or pgvector's copy) for these chunks."""
    listed = ",".join(str(int(chunk_id)) for chunk_id in chunk_ids)
    sql = f"SELECT count(*) FROM {table} WHERE chunk_id IN ({listed})"  # noqa: S608 - ints
    return int(query(database_url, sql)[0][0])


PGVECTOR_TABLE = f"search_index_pgvector_{DIMENSIONS}"


def test_chunks_are_embedded_in_batches_and_deleted_with_their_file(
    admin: openai.OpenAI, database_url: str, fake: FakeModelServer, kind: str
) -> None:
    store = admin.vector_stores.create(name="batches")
    done = add_text(admin, store.id, "long.txt", filler(2000, seed=7), chunking_strategy=STATIC_100)
    chunks, vectors, lengths = vector_rows(database_url, done.id)
    assert chunks >= 2 * BATCH_SIZE + 1
    assert (vectors, lengths) == (chunks, {DIMENSIONS})
    batches = [len(r.body["input"]) for r in fake.requests if r.api == "embeddings"]
    assert sum(batches) == chunks
    assert max(batches) == BATCH_SIZE
    rows = query(database_url, "SELECT id FROM vector_store_chunks WHERE file_id = :f", f=done.id)
    chunk_ids = [row[0] for row in rows]
    assert count_of(database_url, "chunk_embeddings", chunk_ids) == chunks
    if kind == "pgvector":
        assert count_of(database_url, PGVECTOR_TABLE, chunk_ids) == chunks

    admin.files.delete(done.id)
    assert vector_rows(database_url, done.id) == (0, 0, set())
    assert count_of(database_url, "chunk_embeddings", chunk_ids) == 0
    if kind == "pgvector":
        assert count_of(database_url, PGVECTOR_TABLE, chunk_ids) == 0


def test_a_failing_embedding_model_fails_the_file_clearly(
    admin: openai.OpenAI, fake: FakeModelServer, kithost: KithostProcess
) -> None:
    store = admin.vector_stores.create(name="failing")
    fake.when(
        lambda r: r.api == "embeddings",
        error(404, f"The model `{SERVED_AS}` does not exist or you do not have access to it."),
    )
    uploaded = admin.files.create(file=("a.txt", io.BytesIO(b"Some text.")), purpose="assistants")
    done = admin.vector_stores.files.create_and_poll(
        vector_store_id=store.id, file_id=uploaded.id, poll_interval_ms=100
    )
    assert done.status == "failed"
    assert done.last_error is not None
    assert done.last_error.code == "server_error"
    assert f"the provider refused to embed with '{SERVED_AS}' (HTTP 404: The model" in (
        done.last_error.message
    )
    # A 404 is not retried: one request.
    assert len([r for r in fake.requests if r.api == "embeddings"]) == 1


def test_a_passing_outage_is_retried(admin: openai.OpenAI, fake: FakeModelServer) -> None:
    store = admin.vector_stores.create(name="retried")
    fake.when(lambda r: r.api == "embeddings", error(503, "overloaded"), times=2)
    add_text(admin, store.id, "b.txt", "Text that needs three tries to embed.")
    outcomes = [r.outcome for r in fake.requests if r.api == "embeddings"]
    assert outcomes == ["error", "error", "completed"]


def test_search_falls_back_to_keywords_when_the_provider_fails(
    admin: openai.OpenAI, fake: FakeModelServer, kithost: KithostProcess
) -> None:
    store = admin.vector_stores.create(name="fallback")
    add_text(admin, store.id, "c.txt", "The lighthouse keeper logs every passing ship.")
    fake.when(lambda r: r.api == "embeddings", error(400, "no such model"))
    page = raw_search(kithost, store.id, query="lighthouse keeper")
    assert page["search_mode"] == "keyword"
    assert [hit["filename"] for hit in page["data"]] == ["c.txt"]


# --- vectors for chunks ingested without them -------------------------------------------------


def test_chunks_ingested_keyword_only_get_vectors_at_the_next_start(
    kind: str,
    request: pytest.FixtureRequest,
    fake: FakeModelServer,
    start_kithost: Callable[..., KithostProcess],
    tmp_path: Path,
) -> None:
    with database_for(kind, request, tmp_path) as url:
        plain = start_kithost(url, **kithost_env(fake.base_url, "chat_completions", tmp_path / "w"))
        with admin_client(plain) as admin:
            store = admin.vector_stores.create(name="later")
            done = add_text(admin, store.id, "d.txt", filler(300, seed=9) + " Aurora borealis.")
        assert raw_search(plain, store.id, query="aurora")["search_mode"] == "keyword"
        said = "File search: keyword search only (set KITHOST_EMBEDDING_MODEL for hybrid)."
        assert said in plain.log_path.read_text()
        chunks, vectors, _ = vector_rows(url, done.id)
        assert (chunks, vectors) == (1, 0)
        plain.stop()

        hybrid = start_kithost(url, **vector_env(fake, tmp_path / "w"))
        wait_until(lambda: vector_rows(url, done.id)[1] == chunks)
        page = raw_search(hybrid, store.id, query="aurora borealis", ranking_options=VECTORS_ONLY)
        assert page["search_mode"] == "hybrid"
        assert [hit["filename"] for hit in page["data"]] == ["d.txt"]
        hybrid.stop()


def database_for(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AbstractContextManager[str]:
    if kind == "pgvector":
        server: PgVectorServer = request.getfixturevalue("pgvector")
        return server.fresh_database()
    return fresh_database(kind, tmp_path)
