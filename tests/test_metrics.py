"""``GET /metrics``: real traffic through a real server, then the Prometheus page parsed with
prometheus-client's own parser; access modes; ``serve --workers 2`` sums both workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.chatkit_client import ECHO, ChatFactory, ChatKitClient, user_input
from tests.support.databases import fresh_database
from tests.support.fake_model import FakeModelServer, text
from tests.support.process import ADMIN_KEY, KithostProcess, free_port
from tests.support.workflow_files import export_source, is_title_request, kithost_env, write

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, key: str | None = ADMIN_KEY) -> str:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def eventually(check: Callable[[], None], attempts: int = 50) -> None:
    """Counters of a request are written as its response ends; the next scrape may race it."""
    for _ in range(attempts - 1):
        try:
            check()
            return
        except AssertionError:
            time.sleep(0.1)
    check()


@pytest.fixture
def sdk(server: KithostProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as client:
        yield client


def new_session(sdk: openai.OpenAI, user: str, **params: Any) -> dict[str, Any]:
    session = sdk.beta.chatkit.sessions.create(user=user, workflow={"id": ECHO}, **params)
    return session.model_dump(mode="json")


def test_metrics_count_what_was_done(
    server: KithostProcess, sdk: openai.OpenAI, tmp_path: Path
) -> None:
    before = samples(scrape(server.url))
    user = f"metrics-user-{time.time_ns()}"
    chatty = new_session(
        sdk,
        user,
        chatkit_configuration={"file_upload": {"enabled": True}},
        rate_limits={"max_requests_per_1_minute": 100},
    )
    strict = new_session(sdk, user, rate_limits={"max_requests_per_1_minute": 1})
    with ChatFactory(server.url) as factory:
        client: ChatKitClient = factory.client(chatty["client_secret"], chatty)
        turn = client.stream("threads.create", input=user_input("count this turn"))
        assert turn.status_code == 200
        assert turn.assistant_text()
        uploaded = client.upload("cat.png", PNG, "image/png")
        assert uploaded.status_code == 200, uploaded.text
        limited = factory.client(strict["client_secret"], strict)
        assert limited.request("threads.list", limit=1).status_code == 200
        assert limited.request("threads.list", limit=1).status_code == 429
    sdk.beta.chatkit.sessions.cancel(strict["id"])
    sdk.beta.chatkit.sessions.cancel(strict["id"])  # again: not a second cancel

    def counted() -> None:
        text = scrape(server.url)
        after = samples(text)

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert grew("kithost_sessions_created_total", workflow=ECHO) == 2
        assert grew("kithost_sessions_cancelled_total") == 1
        assert grew("kithost_rate_limit_refusals_total", limit="session") == 1
        assert grew("kithost_runs_total", workflow=ECHO, outcome="completed") == 1
        assert grew("kithost_run_duration_seconds_count", workflow=ECHO, outcome="completed") == 1
        assert grew("kithost_run_time_to_first_token_seconds_count", workflow=ECHO) == 1
        assert grew("kithost_upload_bytes_total", api="chatkit") == len(PNG)
        sessions = {"method": "POST", "route": "/v1/chatkit/sessions", "status": "200"}
        assert grew("kithost_http_requests_total", **sessions) == 2
        assert grew("kithost_http_request_duration_seconds_count", **sessions) == 2
        cancel = {"route": "/v1/chatkit/sessions/{session_id}/cancel", "status": "200"}
        assert grew("kithost_http_requests_total", method="POST", **cancel) == 2
        conversation = {"method": "POST", "route": "/v1/chatkit/conversation"}
        assert grew("kithost_http_requests_total", status="200", **conversation) == 2
        assert grew("kithost_http_requests_total", status="429", **conversation) == 1
        assert value(after, "kithost_active_streams") == 0
        assert ("kithost_database_connections_in_use", frozenset()) in after
        # Bounded labels: no id, user or secret anywhere on the page.
        for secret_or_id in (user, chatty["id"], strict["id"], chatty["client_secret"]):
            assert secret_or_id not in text
        assert "thread_" not in text.replace("thread_id", "")

    eventually(counted)


def test_admin_mode_needs_the_admin_key(server: KithostProcess) -> None:
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer sk-wrong"})
    assert wrong.status_code == 401
    assert "kithost_http_requests_total" in scrape(server.url)


def test_public_and_off(database_url: str, start_kithost: Callable[..., KithostProcess]) -> None:
    public = start_kithost(database_url, KITHOST_METRICS="public")
    assert "kithost_runs_total" in scrape(public.url, key=None)
    off = start_kithost(database_url, KITHOST_METRICS="off")
    response = httpx.get(f"{off.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 404
    assert "KITHOST_METRICS=off" in response.json()["error"]["message"]


REDIS_URL = "redis://127.0.0.1:6379/11"


def _serve_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "PROMETHEUS_"))}
    env.update(KITHOST_API_KEYS=ADMIN_KEY, KITHOST_LOG_LEVEL="warning", **settings)
    return env


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``kithost serve --workers 2``: two processes on one port (PostgreSQL and Redis, which
    several processes need)."""
    with fresh_database("postgresql", tmp_path / "db") as database_url:
        yield from _two_workers(database_url, tmp_path)


def _two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    data_dir = tmp_path / "data"
    metrics_dir = data_dir / "metrics"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_1.db").write_bytes(b"left by a previous run")
    env = _serve_env(
        KITHOST_DATABASE_URL=database_url,
        KITHOST_REDIS_URL=REDIS_URL,
        KITHOST_DATA_DIR=str(data_dir),
        KITHOST_DRAIN_SECONDS="2",
    )
    command = [sys.executable, "-m", "kithost", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "server.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url, metrics_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_workers_are_summed(two_workers: tuple[str, Path]) -> None:
    url, metrics_dir = two_workers
    created = 24
    for n in range(created):
        # A connection of its own each time, so that both workers take some.
        with openai.OpenAI(base_url=f"{url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
            sdk.beta.chatkit.sessions.create(user=f"worker-user-{n}", workflow={"id": ECHO})
    pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2, pids  # each worker writes its own file; the stale one was cleared
    for _ in range(8):  # whichever worker answers, the page is the sum of both
        found = samples(scrape(url))
        assert value(found, "kithost_sessions_created_total", workflow=ECHO) == created


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"KITHOST_REDIS_URL": REDIS_URL}, "PostgreSQL"),  # the default SQLite database
        ({"KITHOST_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test"}, "REDIS_URL"),
        ({"KITHOST_WORKERS": "2"}, "REDIS_URL"),
    ],
)
def test_several_workers_without_redis_or_postgresql_are_refused(
    settings: dict[str, str], missing: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "kithost", "serve", "--port", str(free_port())]
    if "KITHOST_WORKERS" not in settings:
        command += ["--workers", "2"]
    env = _serve_env(KITHOST_DATA_DIR=str(tmp_path / "data"), **settings)
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "2 worker processes need" in done.stderr
    assert missing in done.stderr
    assert not (tmp_path / "data").exists()  # refused before touching any database


HELPER = "wf_metrics_helper"


def test_model_calls_and_tokens_by_workflow_and_model(
    database_url: str,
    fake: FakeModelServer,
    start_kithost: Callable[..., KithostProcess],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "workflows"
    write(folder, "helper.py", export_source(HELPER, "Be brief.", model="gpt-4.1-mini"))
    server = start_kithost(database_url, **kithost_env(fake.base_url, "responses", folder))
    fake.reset()
    fake.when(is_title_request, text("A title"))
    fake.push(text("Hello from the model."))
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
        session = sdk.beta.chatkit.sessions.create(user="model-user", workflow={"id": HELPER})
    with ChatFactory(server.url) as factory:
        client = factory.client(session.client_secret, session.model_dump(mode="json"))
        turn = client.stream("threads.create", input=user_input("Say hello"))
        assert turn.assistant_text() == "Hello from the model."
    labels = {"workflow": HELPER, "model": "gpt-4.1-mini"}

    def counted() -> None:
        found = samples(scrape(server.url))
        assert value(found, "kithost_model_calls_total", **labels) == 1
        assert value(found, "kithost_model_input_tokens_total", **labels) > 0
        assert value(found, "kithost_model_output_tokens_total", **labels) > 0
        assert value(found, "kithost_model_errors_total", **labels) == 0
        assert value(found, "kithost_runs_total", workflow=HELPER, outcome="completed") == 1

    eventually(counted)
