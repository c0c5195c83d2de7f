"""Thread retention and the purge of old sessions, with a clock the test controls
(``kithost retention run --now``), on a real server and both databases; and the periodic sweep
every serving process runs, with two processes sweeping at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.chatkit_client import BETA_HEADERS, ChatFactory, create_session, unique_user
from tests.support.data_rights import cli_json, count, query
from tests.support.databases import fresh_database
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import make_thread, seed, user_message
from tests.support.workflow_files import wait_until, write

pytestmark = pytest.mark.timeout(300)

DAY = 86400.0
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS}
SHORT = "wf_retention_short"  # retention_days: 2
FOREVER = "wf_retention_forever"  # retention_days: 0, despite the server's 10


def yaml_workflow(workflow_id: str, retention_days: int) -> str:
    return f"""
        id: {workflow_id}
        model: gpt-4.1-mini
        instructions: Answer briefly.
        retention_days: {retention_days}
    """


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    """Threads kept 10 days by default; the periodic sweep off (the tests sweep with --now)."""
    workdir = tmp_path_factory.mktemp("retention")
    workflows = workdir / "workflows"
    write(workflows, "short.yaml", yaml_workflow(SHORT, 2))
    write(workflows, "forever.yaml", yaml_workflow(FOREVER, 0))
    env = {
        "KITHOST_WORKFLOWS_DIR": str(workflows),
        "KITHOST_THREAD_RETENTION_DAYS": "10",
        "KITHOST_RETENTION_INTERVAL_SECONDS": "0",
    }
    process = KithostProcess(database_url, workdir, env).start()
    yield process
    process.stop()


def thread_status(server: KithostProcess, thread_id: str) -> int:
    response = httpx.get(f"{server.url}/v1/chatkit/threads/{thread_id}", headers=ADMIN)
    return response.status_code


def stored_files(server: KithostProcess, attachment_id: str) -> list[Path]:
    return list((server.workdir / "data" / "files").rglob(f"*{attachment_id}*"))


def sweep(server: KithostProcess, now: float) -> dict[str, int]:
    report = cli_json(server, "retention", "run", "--now", str(now))
    assert report["swept"] is True
    deleted: dict[str, int] = report["deleted"]
    return deleted


def test_threads_past_their_retention_go_with_everything_and_newer_ones_stay(
    server: KithostProcess,
) -> None:
    started = time.time()
    # Under the server's 10 days: a conversation with a file (items, bytes, runs, spans).
    with ChatFactory(server.url) as chat:
        client = chat.open(chatkit_configuration={"file_upload": {"enabled": True}})
        uploaded = client.upload("plan.txt", b"the plan\n" * 50, "text/plain")
        assert uploaded.status_code == 200, uploaded.text
        attachment_id = uploaded.json()["id"]
        old = client.create_thread("Keep this a while", [attachment_id]).thread_id
        recent = client.create_thread("Still talking").thread_id
    # Activity five days later keeps ``recent`` past the first one's end.
    query(
        server.database_url,
        "UPDATE threads SET updated_at = :t WHERE id = :id",
        t=started + 5 * DAY,
        id=recent,
    )
    user = unique_user()
    short, forever = make_thread(user, workflow_id=SHORT), make_thread(user, workflow_id=FOREVER)
    seed(
        server.database_url,
        [(short, [user_message(short.id, "short", started)]), (forever, [])],
    )
    assert stored_files(server, attachment_id)
    runs_before = count(server.database_url, "runs", "thread_id", [old])
    assert runs_before == 1

    # Day 3: only the workflow that keeps threads 2 days loses its thread.
    deleted = sweep(server, started + 3 * DAY)
    assert deleted["threads"] >= 1
    assert thread_status(server, short.id) == 404
    assert count(server.database_url, "thread_items", "thread_id", [short.id]) == 0
    for kept in (old, recent, forever.id):
        assert thread_status(server, kept) == 200

    # Day 11: the conversation's thread goes with its items, file bytes, spans and runs.
    sweep(server, started + 11 * DAY)
    assert thread_status(server, old) == 404
    for table in ("thread_items", "trace_spans", "runs", "attachments"):
        assert count(server.database_url, table, "thread_id", [old]) == 0, table
    assert stored_files(server, attachment_id) == []
    assert thread_status(server, recent) == 200  # last active on day 5
    assert thread_status(server, forever.id) == 200  # its workflow keeps threads forever

    sweep(server, started + 16 * DAY)
    assert thread_status(server, recent) == 404
    assert thread_status(server, forever.id) == 200


def test_sessions_are_purged_after_the_grace_period(server: KithostProcess) -> None:
    session = create_session(server.url, unique_user())
    cancelled = create_session(server.url, unique_user())
    response = httpx.post(
        f"{server.url}/v1/chatkit/sessions/{cancelled['id']}/cancel", headers=ADMIN
    )
    assert response.status_code == 200, response.text
    expires_at = session["expires_at"]

    def status(session_id: str) -> int:
        url = f"{server.url}/v1/chatkit/sessions/{session_id}"
        return httpx.get(url, headers=ADMIN).status_code

    sweep(server, expires_at + 29 * DAY)  # expired, within the default 30 days of grace
    assert status(session["id"]) == status(cancelled["id"]) == 200
    deleted = sweep(server, expires_at + 31 * DAY)
    assert deleted["sessions"] >= 2
    assert status(session["id"]) == status(cancelled["id"]) == 404


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_sweeping_at_once_delete_each_thread_once(
    backend: str, tmp_path: Path
) -> None:
    """Two sweeps at the same moment: every thread deleted exactly once, no errors."""
    with fresh_database(backend, tmp_path) as url:
        env = {"KITHOST_DATABASE_URL": url, "KITHOST_DATA_DIR": str(tmp_path / "data")}
        env["KITHOST_THREAD_RETENTION_DAYS"] = "1"
        sweeper = KithostProcess(url, tmp_path, env)
        migrated = subprocess.run(
            [sys.executable, "-m", "kithost", "migrate"],
            env=sweeper.environment(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert migrated.returncode == 0, migrated.stderr
        started = time.time()
        user = unique_user()
        threads = [make_thread(user) for _ in range(250)]  # more than one batch
        seed(url, [(t, [user_message(t.id, "hi", started)]) for t in threads])

        command = [sys.executable, "-m", "kithost", "retention", "run"]
        command += ["--now", str(started + 2 * DAY)]
        sweeps = [
            subprocess.Popen(
                command,
                env=sweeper.environment(),
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        reports = []
        for process in sweeps:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert "Traceback" not in err, err
            reports.append(json.loads(out))
        assert sum(r["deleted"]["threads"] for r in reports) == 250, reports
        assert sum(r["deleted"]["items"] for r in reports) == 250, reports
        assert query(url, "SELECT count(*) FROM threads")[0][0] == 0


def test_every_serving_process_sweeps_periodically(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    """Two servers with a one-second interval: a thread idle for 20 days disappears, and
    neither logs an error."""
    env = {"KITHOST_THREAD_RETENTION_DAYS": "7", "KITHOST_RETENTION_INTERVAL_SECONDS": "1"}
    servers = [start_kithost(database_url, **env) for _ in range(2)]
    idle = make_thread(unique_user())
    seed(database_url, [(idle, [user_message(idle.id, "old", time.time())])])
    query(
        database_url,
        "UPDATE threads SET updated_at = :t WHERE id = :id",
        t=time.time() - 20 * DAY,
        id=idle.id,
    )
    wait_until(lambda: thread_status(servers[0], idle.id) == 404, timeout=30)
    assert count(database_url, "thread_items", "thread_id", [idle.id]) == 0
    for server in servers:
        log = server.log_path.read_text()
        assert "retention sweep failed" not in log, log
        assert "Traceback" not in log, log


REDIS_URL = "redis://127.0.0.1:6379/13"


def rate_limit_keys(session_id: str) -> list[bytes]:
    with redis.Redis.from_url(REDIS_URL) as store:
        return list(store.scan_iter(match=f"*{session_id}*"))


def test_a_purged_sessions_rate_limit_key_goes_from_redis(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(
        database_url, KITHOST_REDIS_URL=REDIS_URL, KITHOST_RETENTION_INTERVAL_SECONDS="0"
    )
    with ChatFactory(server.url) as chat:
        client = chat.open()
        client.list_threads()  # one request counted against the session's limit
        session = client.session
    assert rate_limit_keys(session["id"])
    sweep(server, session["expires_at"] + 31 * DAY)
    assert rate_limit_keys(session["id"]) == []


def test_refusal_counts_go_a_day_after_the_overviews_longest_range(
    server: KithostProcess,
) -> None:
    """The Overview's per-minute rate-limit refusals are kept 31 days, then swept."""
    with ChatFactory(server.url) as chat:
        client = chat.open(
            user=unique_user(), workflow=SHORT, rate_limits={"max_requests_per_1_minute": 1}
        )
        assert client.request("threads.list", limit=1).status_code == 200
        for _ in range(3):
            assert client.request("threads.list", limit=1).status_code == 429
    refused_at = time.time()

    def refusals() -> int:
        sql = "SELECT COALESCE(SUM(count), 0) FROM rate_limit_refusals WHERE workflow_id = :w"
        [(total,)] = query(server.database_url, sql, w=SHORT)
        return int(total)

    # Counted in memory, written within seconds (the Overview writes them before it reads).
    wait_until(lambda: refusals() == 3)
    sweep(server, refused_at + 30 * DAY)
    assert refusals() == 3
    sweep(server, refused_at + 32 * DAY)
    assert refusals() == 0
