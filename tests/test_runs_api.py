"""Runs (issue 14): detach and resume byte for byte, Stop, cancel, 409 on a busy thread, who sees
which run, the thread's runs, ``KITHOST_RUNS_DETACH=always``, journal retention, a second process
following and cancelling, and a failed run; on SQLite and PostgreSQL, with and without Redis.

The echo workflow is the model-free, deterministic answer: ``BRISK`` ends on its own about a
second after it starts, ``SLOW`` (some 45 s) is always mid-answer until someone stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from kithost.store.database import create_engine
from kithost.store.tables import run_events
from tests.support.chatkit_client import (
    BETA_HEADERS,
    ECHO,
    create_session,
    parse_sse,
    unique_user,
    user_input,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.fake_model import FakeModelServer, ModelRequest, stream_error, text
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.runs_client import (
    RUN_ID_HEADER,
    RunsClient,
    SseEvent,
    SseReader,
    deltas,
    forget_redis_keys,
    joined,
    normalized,
    nth_delta,
)
from tests.support.workflow_files import (
    FAQ_BOT,
    copy_fixture_exports,
    is_title_request,
    kithost_env,
)

WORDS = "alpha beta gamma"
BRISK = {"delay_ms": 10, "repeat": 40}
SLOW = {"delay_ms": 30, "repeat": 500}
# A Redis database of the tests' own; they delete only the keys naming their sessions and runs.
REDIS_URL = "redis://127.0.0.1:6379/11"
NO_TITLES = {"automatic_thread_titling": {"enabled": False}}


def answer_of(state: dict[str, int]) -> str:
    return " ".join([WORDS] * state["repeat"])


# processes


@pytest.fixture(scope="module")
def server(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """The module's kithost: the built-in echo, and an export that answers from the fake model."""
    workdir = tmp_path_factory.mktemp("runs")
    folder = workdir / "workflows"
    copy_fixture_exports(folder)
    process = KithostProcess(
        database_url, workdir, kithost_env(fake.base_url, "chat_completions", folder)
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def redis_markers() -> Iterator[list[str]]:
    """Session and run ids made in this module: the Redis keys to delete afterwards."""
    markers: list[str] = []
    yield markers
    forget_redis_keys(REDIS_URL, markers)


def own_process(
    backend: str, tmp_path_factory: pytest.TempPathFactory, **env: str
) -> Iterator[KithostProcess]:
    """A kithost with ``env`` on a database of its own (SQLite serves a single process)."""
    workdir = tmp_path_factory.mktemp("runs-own")
    with fresh_database(backend, workdir) as url:
        process = KithostProcess(url, workdir, env).start()
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture(scope="module")
def redis_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, redis_markers: list[str]
) -> Iterator[KithostProcess]:
    yield from own_process(backend, tmp_path_factory, KITHOST_REDIS_URL=REDIS_URL)


@pytest.fixture(scope="module")
def tuned_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    """Detached by default, and finished runs' events kept for one second."""
    yield from own_process(
        backend, tmp_path_factory, KITHOST_RUNS_DETACH="always", KITHOST_RUN_EVENTS_TTL="1"
    )


@pytest.fixture(params=["database", "redis"])
def kithost(request: pytest.FixtureRequest, server: KithostProcess) -> KithostProcess:
    """The module's server, or one with ``KITHOST_REDIS_URL`` (journal on Redis Streams)."""
    if request.param == "redis":
        process: KithostProcess = request.getfixturevalue("redis_server")
        return process
    return server


class Clients:
    """Sessions and their run clients, on any process; closed (and noted for Redis) after."""

    def __init__(self, markers: list[str]):
        self._markers = markers
        self._clients: list[RunsClient] = []

    def open(
        self,
        process: KithostProcess,
        user: str | None = None,
        state: dict[str, int] | None = None,
        workflow: str = ECHO,
        **params: Any,
    ) -> RunsClient:
        params.setdefault("rate_limits", {"max_requests_per_1_minute": 1000})
        session = create_session(process.url, user or unique_user(), workflow, state, **params)
        self._markers.append(session["id"])
        return self.client(process, session["client_secret"], session)

    def client(
        self, process: KithostProcess, token: str | None, session: dict[str, Any] | None = None
    ) -> RunsClient:
        client = RunsClient(process.url, token, session)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            self._markers.extend(client.run_ids)
            client.close()


@pytest.fixture
def clients(redis_markers: list[str]) -> Iterator[Clients]:
    made = Clients(redis_markers)
    yield made
    made.close()


# reading results


def seqs(events: list[SseEvent]) -> list[int | None]:
    return [event.seq for event in events]


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of protocol items."""
    return [
        (item["type"], "".join(part.get("text", "") for part in item.get("content", [])))
        for item in items
    ]


def thread_of(events: list[SseEvent]) -> str:
    created = [event.event for event in events if event.type == "thread.created"]
    assert created, f"no thread.created in {[event.type for event in events]}"
    return str(created[0]["thread"]["id"])


def ended(client: RunsClient, run_id: str) -> dict[str, Any]:
    """The run once it is no longer in progress."""
    run: dict[str, Any] = wait_until(
        lambda: (found := client.run(run_id))["status"] != "in_progress" and found
    )
    return run


def error_of(response: SseReader | Any) -> dict[str, Any]:
    body = response.body if isinstance(response, SseReader) else response.json()
    error: dict[str, Any] = body["error"]
    return error


def check_partial(client: RunsClient, thread_id: str, seen: str, state: dict[str, int]) -> str:
    """The thread keeps the stopped answer: at least what was seen, never the whole; its text."""
    items = client.list_items(thread_id, order="asc")["data"]
    assert [item["type"] for item in items][-2:] == ["user_message", "assistant_message"]
    partial = texts(items)[-1][1]
    assert seen
    assert partial.startswith(seen)
    assert answer_of(state).startswith(partial)
    assert len(partial) < len(answer_of(state))
    return partial


def check_replay(client: RunsClient, run: dict[str, Any]) -> list[SseEvent]:
    """A finished run's events from 0: numbered 1..last_event_id, and the stream closes."""
    replay = client.follow_all(run["id"])
    assert replay.status_code == 200
    assert replay.ended
    assert replay.headers[RUN_ID_HEADER] == run["id"]
    assert seqs(replay.events) == list(range(1, run["last_event_id"] + 1))
    return replay.events


# 1. detach, then resume


def test_detach_then_resume_gives_the_bytes_an_uninterrupted_follow_gets(
    kithost: KithostProcess, clients: Clients
) -> None:
    client = clients.open(kithost, state=BRISK)
    with client.converse("threads.create", detach="true", input=user_input(WORDS)) as first:
        before = first.take_until(nth_delta(5))
    run_id = first.run_id
    k = len(before)
    assert run_id.startswith("run_")
    assert len(run_id) == len("run_") + 48
    assert seqs(before) == list(range(1, k + 1))
    assert deltas(before) == "alpha beta gamma alpha beta"

    # Straight back (most likely while it still runs), from the last id the client saw.
    resumed = client.follow_all(run_id, last_event_id=str(k))
    assert resumed.status_code == 200
    assert resumed.headers[RUN_ID_HEADER] == run_id
    run = client.run(run_id)  # the follow ends when the run does
    assert run["status"] == "completed"
    assert run["ended_at"] is not None
    assert run["request_type"] == "threads.create"

    reference = check_replay(client, run)
    assert before == reference[:k]  # what the client saw before it left, byte for byte
    assert resumed.raw == joined(reference[k:])
    assert client.follow_all(run_id, after=k).raw == resumed.raw
    assert client.follow_all(run_id, last_event_id=str(run["last_event_id"])).raw == b""

    # Nothing was lost while nobody listened.
    thread_id = thread_of(reference)
    assert run["thread_id"] == thread_id
    assert deltas(reference) == answer_of(BRISK)
    assert texts(client.list_items(thread_id, order="asc")["data"]) == [
        ("user_message", WORDS),
        ("assistant_message", answer_of(BRISK)),
    ]

    # The same input, not detached: no ids, and the same events but for ids and times.
    plain = client.converse_all("threads.create", input=user_input(WORDS))
    assert len(parse_sse(plain.raw)) == len(plain.events)
    assert seqs(plain.events) == [None] * len(plain.events)
    assert normalized(plain.events) == normalized(reference)
    assert thread_of(plain.events) != thread_id


# 2. no header: hanging up is Stop


def test_without_detach_hanging_up_stops_the_run(kithost: KithostProcess, clients: Clients) -> None:
    client = clients.open(kithost, state=SLOW)
    with client.converse("threads.create", input=user_input(WORDS)) as stopped:
        seen = stopped.take_until(nth_delta(5))
    # The bytes as they were before runs: ``data:`` lines only.
    assert len(parse_sse(stopped.raw)) == len(seen)
    assert seqs(seen) == [None] * len(seen)

    run = ended(client, stopped.run_id)
    assert run["status"] == "cancelled"
    replay = check_replay(client, run)
    assert [event.data for event in replay[: len(seen)]] == [event.raw for event in seen]
    thread_id = thread_of(seen)
    partial = check_partial(client, thread_id, deltas(seen), SLOW)
    assert deltas(replay).startswith(deltas(seen))
    assert partial.startswith(deltas(seen))


# 3. POST /runs/{id}/cancel


def test_cancel_with_the_client_secret_is_a_stop(kithost: KithostProcess, clients: Clients) -> None:
    client = clients.open(kithost, state=SLOW)
    with client.converse("threads.create", detach="true", input=user_input(WORDS)) as first:
        seen = first.take_until(nth_delta(3))
    run_id = first.run_id
    assert client.run(run_id)["status"] == "in_progress"  # detached: it went on

    response = client.cancel(run_id)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["id"] == run_id
    assert cancelled["object"] == "chatkit.run"
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert cancelled["user"] == client.user
    assert cancelled["session_id"] == client.session["id"]
    assert cancelled["workflow"]["id"] == ECHO
    # Idempotent: the finished run as it is.
    again = client.cancel(run_id)
    assert again.status_code == 200
    assert again.json() == cancelled
    assert client.run(run_id) == cancelled

    thread_id = cancelled["thread_id"]
    assert thread_id == thread_of(seen)
    check_partial(client, thread_id, deltas(seen), SLOW)
    # A stopped first exchange still titles the thread.
    assert wait_until(lambda: client.get_thread(thread_id)["title"]) == WORDS
    replay = check_replay(client, cancelled)
    assert replay[: len(seen)] == seen


def test_cancel_with_an_admin_key_through_the_openai_sdk(
    kithost: KithostProcess, clients: Clients
) -> None:
    quick = clients.open(kithost)
    client = clients.open(kithost, user=quick.user, state=SLOW)
    thread_id = thread_of(quick.converse_all("threads.create", input=user_input("first")).events)
    with client.converse(
        "threads.add_user_message", detach="true", thread_id=thread_id, input=user_input(WORDS)
    ) as turn:
        seen = turn.take_until(nth_delta(3))
    run_id = turn.run_id
    options: Any = {"headers": BETA_HEADERS}
    with openai.OpenAI(base_url=f"{kithost.url}/v1", api_key=ADMIN_KEY, max_retries=0) as admin:
        cancelled = admin.post(f"/chatkit/runs/{run_id}/cancel", cast_to=object, options=options)
        again = admin.post(f"/chatkit/runs/{run_id}/cancel", cast_to=object, options=options)
        retrieved = admin.get(f"/chatkit/runs/{run_id}", cast_to=object, options=options)
    assert isinstance(cancelled, dict)
    assert cancelled["status"] == "cancelled"
    assert cancelled["thread_id"] == thread_id
    assert cancelled["request_type"] == "threads.add_user_message"
    assert again == cancelled
    assert retrieved == cancelled
    check_partial(client, thread_id, deltas(seen), SLOW)


# 4. a busy thread


def test_a_busy_thread_refuses_input_before_any_stream(
    kithost: KithostProcess, clients: Clients
) -> None:
    quick = clients.open(kithost)
    slow = clients.open(kithost, user=quick.user, state=SLOW)
    first = quick.converse_all("threads.create", input=user_input("first"))
    thread_id = thread_of(first.events)
    first_item = first.events[1].event["item"]
    assert first_item["type"] == "user_message"
    with slow.converse(
        "threads.add_user_message", detach="true", thread_id=thread_id, input=user_input(WORDS)
    ) as busy:
        seen = busy.take_until(nth_delta(2))
    run_id = busy.run_id

    refused_requests: list[tuple[RunsClient, str | None, str, dict[str, Any]]] = [
        (quick, None, "threads.add_user_message", {"input": user_input("too soon")}),
        (quick, None, "threads.retry_after_item", {"item_id": first_item["id"]}),
        (slow, "true", "threads.add_user_message", {"input": user_input("too soon")}),
    ]
    for client, detach, kind, params in refused_requests:
        with client.converse(kind, detach, thread_id=thread_id, **params) as refused:
            assert refused.status_code == 409, (kind, refused.status_code)
            assert refused.headers["content-type"].startswith("application/json")
            assert RUN_ID_HEADER not in refused.headers
            error = error_of(refused)
            assert error["code"] == "run_in_progress"
            assert run_id in error["message"]
    runs = quick.thread_runs(thread_id).json()["data"]
    assert (runs[0]["id"], runs[0]["status"]) == (run_id, "in_progress")
    assert [run["status"] for run in runs[1:]] == ["completed"]

    assert quick.cancel(run_id).json()["status"] == "cancelled"
    partial = check_partial(quick, thread_id, deltas(seen), SLOW)
    after = quick.converse_all(
        "threads.add_user_message", thread_id=thread_id, input=user_input("now")
    )
    assert after.status_code == 200
    assert texts(quick.list_items(thread_id, order="asc")["data"]) == [
        ("user_message", "first"),
        ("assistant_message", "first"),
        ("user_message", WORDS),
        ("assistant_message", partial),
        ("user_message", "now"),
        ("assistant_message", "now"),
    ]


# 5. who sees which run


def test_only_the_runs_user_and_admin_keys_see_a_run(
    server: KithostProcess, clients: Clients
) -> None:
    owner = clients.open(server, state=SLOW)
    stranger = clients.open(server)
    admin = clients.client(server, ADMIN_KEY)
    nobody = clients.client(server, None)
    with owner.converse("threads.create", detach="true", input=user_input(WORDS)) as first:
        seen = first.take_until(nth_delta(2))
    run_id = first.run_id
    thread_id = thread_of(seen)

    def answers(client: RunsClient, run: str, thread: str) -> list[int]:
        with client.follow(run) as events:
            followed = events.status_code
        return [
            client.get_run(run).status_code,
            followed,
            client.cancel(run).status_code,
            client.thread_runs(thread).status_code,
        ]

    assert answers(stranger, run_id, thread_id) == [404] * 4
    assert error_of(stranger.get_run(run_id))["message"] == f"No run found with id '{run_id}'."
    assert answers(nobody, run_id, thread_id) == [401] * 4
    assert owner.run(run_id)["status"] == "in_progress"  # neither stopped it

    # The app's backend sees everything, and may stop it.
    # The same run; only how far it has got may differ between the two reads.
    seen_by_admin, seen_by_owner = admin.run(run_id), owner.run(run_id)
    assert seen_by_admin.pop("last_event_id") <= seen_by_owner.pop("last_event_id")
    assert seen_by_admin == seen_by_owner
    assert admin.run(run_id)["user"] == owner.user
    listed = admin.thread_runs(thread_id).json()
    assert [run["id"] for run in listed["data"]] == [run_id]
    cancelled = admin.cancel(run_id).json()
    assert cancelled["status"] == "cancelled"
    assert admin.follow_all(run_id).raw == owner.follow_all(run_id).raw

    unknown_run = "run_" + "0" * 48
    unknown_thread = "cthr_" + "0" * 48
    for client in (owner, admin):
        assert answers(client, unknown_run, unknown_thread) == [404] * 4
        assert answers(client, "not-a-run", unknown_thread) == [404] * 4
        # As on every thread path, an id that cannot be a thread's is a bad request.
        malformed = client.thread_runs("not-a-thread")
        assert malformed.status_code == 400
        assert error_of(malformed)["param"] == "thread_id"

    for bad in ("x", "-1", "1.5"):
        with owner.follow(run_id, last_event_id=bad) as refused:
            assert refused.status_code == 400, bad
            error = error_of(refused)
        assert (error["code"], error["param"]) == ("invalid_value", "Last-Event-ID")
    with owner.follow(run_id, after=-1) as refused:
        assert refused.status_code == 400
        assert error_of(refused)["type"] == "invalid_request_error"


# 6. a thread's runs


def test_a_threads_runs_newest_first_in_pages(server: KithostProcess, clients: Clients) -> None:
    client = clients.open(server)
    thread_id = thread_of(client.converse_all("threads.create", input=user_input("one")).events)
    for word in ("two", "three"):
        client.converse_all("threads.add_user_message", thread_id=thread_id, input=user_input(word))
    oldest, middle, newest = client.run_ids

    def page(**params: Any) -> dict[str, Any]:
        response = client.thread_runs(thread_id, **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["object"] == "list"
        return body

    listed = page()
    assert [run["id"] for run in listed["data"]] == [newest, middle, oldest]
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == (newest, oldest, False)
    assert [run["request_type"] for run in listed["data"]] == [
        "threads.add_user_message",
        "threads.add_user_message",
        "threads.create",
    ]
    for run in listed["data"]:
        assert run["object"] == "chatkit.run"
        assert run["status"] == "completed"
        assert (run["thread_id"], run["user"]) == (thread_id, client.user)
        assert run["last_event_id"] > 0
        assert run["ended_at"] >= run["created_at"]
    assert listed["data"][0] == client.run(newest)

    first = page(limit=2)
    assert [run["id"] for run in first["data"]] == [newest, middle]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (newest, middle, True)
    rest = page(limit=2, after=first["last_id"])
    assert [run["id"] for run in rest["data"]] == [oldest]
    assert (rest["first_id"], rest["last_id"], rest["has_more"]) == (oldest, oldest, False)
    assert [run["id"] for run in page(order="asc")["data"]] == [oldest, middle, newest]


# 7. KITHOST_RUNS_DETACH=always, 8. retention


def test_detach_always_makes_a_hang_up_a_detach_unless_the_client_says_false(
    tuned_server: KithostProcess, clients: Clients
) -> None:
    brisk = clients.open(tuned_server, state=BRISK)
    with brisk.converse("threads.create", input=user_input(WORDS)) as left:
        seen = left.take_until(nth_delta(3))
    assert seqs(seen) == list(range(1, len(seen) + 1))
    run = ended(brisk, left.run_id)
    assert run["status"] == "completed"
    assert texts(brisk.list_items(thread_of(seen), order="asc")["data"]) == [
        ("user_message", WORDS),
        ("assistant_message", answer_of(BRISK)),
    ]

    slow = clients.open(tuned_server, user=brisk.user, state=SLOW)
    with slow.converse("threads.create", detach="false", input=user_input(WORDS)) as stopped:
        seen = stopped.take_until(nth_delta(3))
    assert len(parse_sse(stopped.raw)) == len(seen)
    assert ended(slow, stopped.run_id)["status"] == "cancelled"
    check_partial(slow, thread_of(seen), deltas(seen), SLOW)


def test_a_finished_runs_events_expire_after_the_retention(
    tuned_server: KithostProcess, clients: Clients
) -> None:
    client = clients.open(tuned_server)
    done = client.converse_all("threads.create", input=user_input("short"))
    run_id = done.run_id
    assert seqs(done.events) == list(range(1, len(done.events) + 1))

    def expired() -> SseReader | None:
        with client.follow(run_id) as events:
            events.rest()
        return events if events.status_code == 410 else None

    gone = wait_until(expired)
    error = error_of(gone)
    assert error["code"] == "run_events_expired"
    assert run_id in error["message"]
    assert client.run(run_id)["status"] == "completed"  # the run itself stays
    # ... and its journal is deleted, not only hidden.
    assert wait_until(lambda: asyncio.run(_journaled(tuned_server.database_url, run_id)) == 0)


async def _journaled(database_url: str, run_id: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = (
                select(func.count()).select_from(run_events).where(run_events.c.run_id == run_id)
            )
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


# 9. a second process on the same PostgreSQL


@pytest.mark.parametrize("with_redis", [False, True], ids=["notify", "redis"])
def test_a_second_process_resumes_and_cancels_a_run(
    with_redis: bool, tmp_path: Path, clients: Clients
) -> None:
    env = {"KITHOST_REDIS_URL": REDIS_URL} if with_redis else {}
    with fresh_database("postgresql", tmp_path) as url:
        first = KithostProcess(url, tmp_path / "a", env)
        second = KithostProcess(url, tmp_path / "b", env)
        try:
            for process in (first, second):
                process.workdir.mkdir()
            with ThreadPoolExecutor(2) as starting:  # side by side: each takes seconds
                list(starting.map(KithostProcess.start, (first, second)))
            resume_and_cancel_elsewhere(first, second, clients)
        finally:
            first.stop()
            second.stop()


def resume_and_cancel_elsewhere(
    first: KithostProcess, second: KithostProcess, clients: Clients
) -> None:
    on_first = clients.open(first, state=SLOW)
    on_second = clients.client(second, on_first.client_secret, on_first.session)
    with on_first.converse("threads.create", detach="true", input=user_input(WORDS)) as started:
        before = started.take_until(nth_delta(3))
    run_id = started.run_id
    k = len(before)

    with on_second.follow(run_id, last_event_id=str(k)) as resumed:
        live = resumed.take_until(nth_delta(3))  # the answer goes on, seen from the second
        assert seqs(live) == list(range(k + 1, k + 1 + len(live)))
        assert on_second.run(run_id)["status"] == "in_progress"
        response = on_second.cancel(run_id)  # the first process stops it
        assert response.status_code == 200, response.text
        cancelled = response.json()
        resumed.rest()  # and the resumed stream ends with the run
    assert cancelled["status"] == "cancelled"
    assert on_first.run(run_id) == cancelled

    reference = check_replay(on_first, cancelled)
    assert on_second.follow_all(run_id).raw == joined(reference)
    assert before == reference[:k]
    assert resumed.raw == joined(reference[k:])
    thread_id = thread_of(before)
    check_partial(on_second, thread_id, deltas(before + live), SLOW)
    assert wait_until(lambda: on_second.get_thread(thread_id)["title"]) == WORDS
    quick = clients.open(second, user=on_first.user)
    after = quick.converse_all(
        "threads.add_user_message", thread_id=thread_id, input=user_input("on")
    )
    assert deltas(after.events) == "on"


# 10. a failed run


def answering(request: ModelRequest) -> bool:
    return not is_title_request(request)


def test_a_turn_that_fails_is_a_failed_run(
    server: KithostProcess, clients: Clients, fake: FakeModelServer
) -> None:
    client = clients.open(server, workflow=FAQ_BOT, chatkit_configuration=NO_TITLES)
    fake.when(answering, stream_error("The fake model failed mid-stream.", "We open"))
    try:
        failed = client.converse_all(
            "threads.create", detach="true", input=user_input("When do you open?")
        )
    finally:
        fake.reset()
    assert failed.events[-1].type == "error"
    run = client.run(failed.run_id)
    assert run["status"] == "failed"
    assert run["workflow"]["id"] == FAQ_BOT
    assert check_replay(client, run) == failed.events

    fake.push(text("We open at 7am."))
    try:
        after = client.converse_all(
            "threads.add_user_message",
            thread_id=thread_of(failed.events),
            input=user_input("When do you open?"),
        )
    finally:
        fake.reset()
    assert client.run(after.run_id)["status"] == "completed"
    assert deltas(after.events) == "We open at 7am."
