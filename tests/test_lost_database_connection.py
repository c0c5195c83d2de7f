"""A database connection that goes away (a PostgreSQL restart, a proxy's idle timeout) costs one
retryable 503 at most, never a 500, and the official SDK's retry goes through.

kithost does not ping a pooled connection before each use (a round trip on every request); a
dead one fails its request and SQLAlchemy renews the pool. PostgreSQL only: an SQLite file has no
server connection to lose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.chatkit_client import ECHO
from tests.support.databases import admin_sql, fresh_database
from tests.support.process import ADMIN_KEY, KithostProcess

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Beta": "chatkit_beta=v1"}


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("db")) as url:
        process = KithostProcess(url, tmp_path_factory.mktemp("server")).start()
        yield process
        process.stop()


def cut_connections(server: KithostProcess) -> None:
    """End every backend of kithost's database, as a PostgreSQL restart would."""
    name = server.database_url.rsplit("/", 1)[1]
    where = f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity " + where)  # noqa: S608


def create_session(server: KithostProcess, user: str) -> httpx.Response:
    body = {"user": user, "workflow": {"id": ECHO}}
    return httpx.post(f"{server.url}/v1/chatkit/sessions", json=body, headers=HEADERS, timeout=30)


def test_a_cut_connection_is_a_503_once_then_requests_succeed(
    postgres_server: KithostProcess,
) -> None:
    statuses = []
    for attempt in range(3):
        for n in range(4):  # several connections in the pool
            assert create_session(postgres_server, f"warm-{attempt}-{n}").status_code == 200
        cut_connections(postgres_server)
        first = create_session(postgres_server, f"after-cut-{attempt}")
        statuses.append(first.status_code)
        if first.status_code == 503:
            error = first.json()["error"]
            assert error["type"] == "server_error"
            assert error["code"] == "lost_database_connection"
            assert "retry" in error["message"].lower()
            assert first.headers["x-request-id"]
        # The pool was renewed: what follows works without a retry.
        for n in range(3):
            assert create_session(postgres_server, f"then-{attempt}-{n}").status_code == 200
    assert set(statuses) <= {200, 503}
    # Background work (leases, tallies) may meet a dead connection first and renew the pool;
    # a request right after the cut almost always meets one itself.
    assert 503 in statuses, statuses
    log = Path(postgres_server.log_path).read_text()
    assert "database connection lost" in log
    assert "unhandled error" not in log  # a warning line, no traceback


def test_the_sdk_retries_through_a_cut(postgres_server: KithostProcess) -> None:
    with openai.OpenAI(base_url=f"{postgres_server.url}/v1", api_key=ADMIN_KEY) as sdk:
        sdk.beta.chatkit.sessions.create(user="sdk-warm", workflow={"id": ECHO})
        cut_connections(postgres_server)
        session = sdk.beta.chatkit.sessions.create(user="sdk-after-cut", workflow={"id": ECHO})
        assert session.user == "sdk-after-cut"
        listed = httpx.get(
            f"{postgres_server.url}/v1/chatkit/sessions",
            params={"user": "sdk-after-cut"},
            headers=HEADERS,
            timeout=30,
        )
    assert [s["id"] for s in listed.json()["data"]] == [session.id]  # created once
