"""Two kithost processes behind a real load balancer (HAProxy, round robin), sharing one
PostgreSQL database, with Redis for wake-ups or without it (PostgreSQL LISTEN/NOTIFY):
a run resumed on the other process, a process killed mid-answer, and a process drained.

SQLite is not here: it serves one process (several processes need a shared database).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from kithost.core.stop_reason import INTERRUPTED_NOTICE
from kithost.pid_file import SIGTERM_EXIT_CODE
from tests.support.balancer import BACKEND_HEADER, Backend, Balancer
from tests.support.chatkit_client import (
    CONVERSATION_PATH,
    ECHO,
    Event,
    create_session,
    unique_user,
    user_input,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.process import KithostProcess

# A Redis database of these tests' own; they delete only the keys of their own sessions and runs.
REDIS_URL = "redis://127.0.0.1:6379/11"
WORDS = "alpha beta gamma"
# Some 300 words, 30 ms apart: still running when the test looks away and back.
STEADY = {"delay_ms": 30, "repeat": 100}
# About 1 500 words (some 45 s): never finishes within the tests' short leases and drains.
SLOW = {"delay_ms": 30, "repeat": 500}
LEASE_SECONDS = 2
RUN_ID_HEADER = "X-Kithost-Run-Id"


def echo_of(state_variables: dict[str, int]) -> str:
    """The whole answer the echo workflow gives to WORDS."""
    return " ".join([WORDS] * state_variables["repeat"])


# reading a run's numbered events (`id: <seq>` + `data: <event>`)


class RunStream:
    """A run's SSE response, read event by event; it may be left part-way (detach)."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.numbered: list[tuple[int, Event]] = []
        self.complete = False  # the server ended the stream (not us leaving it)
        self.dropped = False  # the connection broke off
        self._events = self._read()

    @property
    def backend(self) -> str:
        return self.response.headers[BACKEND_HEADER]

    @property
    def run_id(self) -> str:
        return self.response.headers[RUN_ID_HEADER]

    @property
    def ids(self) -> list[int]:
        return [seq for seq, _ in self.numbered]

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.numbered]

    def deltas(self) -> str:
        return "".join(self._deltas())

    def _deltas(self) -> list[str]:
        return [
            event["update"]["delta"]
            for event in self.events
            if event["type"] == "thread.item.updated"
            and event["update"]["type"] == "assistant_message.content_part.text_delta"
        ]

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["type"] == kind]

    def answer(self) -> str:
        done = [
            event["item"]
            for event in self.of_type("thread.item.done")
            if event["item"]["type"] == "assistant_message"
        ]
        assert len(done) == 1, [event["type"] for event in self.events]
        return "".join(part["text"] for part in done[0]["content"])

    def until_deltas(self, count: int) -> None:
        """Read on until the ``count``-th text delta (the stream must get that far)."""
        for _ in self._events:
            if len(self._deltas()) >= count:
                return
        raise AssertionError(f"the stream ended before {count} deltas: {self.deltas()!r}")

    def to_end(self) -> RunStream:
        """Read what is left; the stream must end in good order."""
        self.rest()
        assert self.complete, "the stream was cut off"
        return self

    def rest(self) -> None:
        for _ in self._events:
            pass

    def _read(self) -> Iterator[tuple[int, Event]]:
        assert self.response.status_code == 200, self.response.read()
        pending = b""
        try:
            for chunk in self.response.iter_raw():
                pending += chunk
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    id_line, data_line = block.decode().split("\n")  # exactly these two lines
                    assert id_line.startswith("id: "), block
                    assert data_line.startswith("data: "), block
                    self.numbered.append((int(id_line[4:]), json.loads(data_line[6:])))
                    yield self.numbered[-1]
        except (httpx.RemoteProtocolError, httpx.ReadError):
            self.dropped = True  # the process behind the balancer died mid-stream
            return
        assert not pending, f"the stream ended inside an event: {pending!r}"
        self.complete = True


def assert_retryable_error(event: Event) -> None:
    """The event that ends an interrupted run: an error the user may retry."""
    assert event["type"] == "error", event
    assert event["allow_retry"] is True, event


def consecutive(ids: list[int], first: int) -> bool:
    return ids == list(range(first, first + len(ids)))


# the cluster: PostgreSQL, two processes, HAProxy in front


@dataclass
class User:
    """One session's client secret, speaking through the balancer (or to a process directly)."""

    http: httpx.Client
    session: dict[str, Any]
    made: list[str]  # the cluster's ids to clean up: every run this user starts joins it

    @property
    def name(self) -> str:
        return str(self.session["user"])

    @contextmanager
    def turn(
        self, kind: str, base: str = "", detach: bool = True, **params: Any
    ) -> Iterator[RunStream]:
        """A streaming request (detached by default); leaving the block closes it."""
        headers = {"Accept": "text/event-stream", "X-Kithost-Detach": str(detach).lower()}
        body = {"type": kind, "params": params}
        with self.http.stream(
            "POST", f"{base}{CONVERSATION_PATH}", json=body, headers=headers
        ) as response:
            self._started(response)
            yield RunStream(response)

    def post_turn(self, kind: str, base: str = "", **params: Any) -> httpx.Response:
        """A streaming request read whole (for refusals and quick turns)."""
        body = {"type": kind, "params": params}
        headers = {"Accept": "text/event-stream", "X-Kithost-Detach": "true"}
        response = self.http.post(f"{base}{CONVERSATION_PATH}", json=body, headers=headers)
        self._started(response)
        return response

    def _started(self, response: httpx.Response) -> None:
        if RUN_ID_HEADER in response.headers:
            self.made.append(response.headers[RUN_ID_HEADER])

    @contextmanager
    def follow(self, run_id: str, after: int, base: str = "") -> Iterator[RunStream]:
        headers = {"Last-Event-ID": str(after)}
        path = f"{base}/v1/chatkit/runs/{run_id}/events"
        with self.http.stream("GET", path, headers=headers) as response:
            yield RunStream(response)

    def replay(self, run_id: str, after: int = 0) -> RunStream:
        with self.follow(run_id, after) as stream:
            return stream.to_end()

    def run(self, run_id: str, base: str = "") -> dict[str, Any]:
        response = self.http.get(f"{base}/v1/chatkit/runs/{run_id}")
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        return run

    def items(self, thread_id: str) -> list[tuple[str, str]]:
        """(type, text) of the thread's items, oldest first."""
        body = {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
        response = self.http.post(CONVERSATION_PATH, json=body)
        assert response.status_code == 200, response.text
        return [
            (item["type"], "".join(part.get("text", "") for part in item.get("content", [])))
            for item in response.json()["data"]
        ]


@dataclass
class Cluster:
    balancer: Balancer
    processes: dict[str, KithostProcess]  # by the balancer's name for each
    made: list[str]  # session and run ids, for the Redis clean-up
    clients: ExitStack = field(default_factory=ExitStack)  # the users' HTTP clients

    @property
    def url(self) -> str:
        return self.balancer.url

    def process_of(self, stream: RunStream | httpx.Response) -> KithostProcess:
        """The process that answered a request made through the balancer."""
        headers = stream.response.headers if isinstance(stream, RunStream) else stream.headers
        return self.processes[headers[BACKEND_HEADER]]

    def other(self, process: KithostProcess) -> KithostProcess:
        (other,) = [p for p in self.processes.values() if p is not process]
        return other

    def name_of(self, process: KithostProcess) -> str:
        (name,) = [name for name, p in self.processes.items() if p is process]
        return name

    def user(self, state_variables: dict[str, int] | None = None, name: str = "") -> User:
        session = create_session(
            self.url,
            name or unique_user(),
            ECHO,
            state_variables,
            rate_limits={"max_requests_per_1_minute": 1000},
        )
        self.made.append(session["id"])
        headers = {"Authorization": f"Bearer {session['client_secret']}"}
        http = self.clients.enter_context(httpx.Client(base_url=self.url, headers=headers))
        return User(http, session, self.made)


@pytest.fixture(params=[None, REDIS_URL], ids=["listen-notify", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    value: str | None = request.param
    return value


@pytest.fixture
def cluster(redis_url: str | None, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Make the cluster (``KITHOST_*`` settings for both processes); all of it ends after."""
    with ExitStack() as stack:

        def make(**env: str) -> Cluster:
            database_url = stack.enter_context(fresh_database("postgresql", tmp_path))
            made: list[str] = []
            if redis_url is not None:
                env["KITHOST_REDIS_URL"] = redis_url
                # Once the processes are gone (LIFO), so that none writes a key afterwards.
                stack.callback(_forget_redis_keys, redis_url, made)
            processes = {}
            for index in range(2):
                workdir = tmp_path / f"kithost-{index}"
                workdir.mkdir()
                process = KithostProcess(database_url, workdir, env)
                stack.callback(process.stop)  # before the database goes
                process.start()
                processes[f"kithost-{process.port}"] = process
            backends = [Backend(name, p.port) for name, p in processes.items()]
            balancer = stack.enter_context(Balancer(backends, tmp_path))
            made_cluster = Cluster(balancer, processes, made)
            stack.enter_context(made_cluster.clients)
            return made_cluster

        yield make


def _forget_redis_keys(url: str, ids: list[str]) -> None:
    with redis.Redis.from_url(url) as store:
        for made_id in ids:
            for key in store.scan_iter(match=f"*{made_id}*"):
                store.delete(key)


# resume on the other process


def test_a_run_resumed_through_the_balancer_continues_on_the_other_process(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster()
    user = c.user(STEADY)
    with user.turn("threads.create", input=user_input(WORDS)) as started:
        started.until_deltas(10)
    # Leaving the block closed the connection: detached, the run goes on where it started.
    owner = c.process_of(started)
    run_id = started.run_id
    thread_id = started.of_type("thread.created")[0]["thread"]["id"]
    assert consecutive(started.ids, 1)
    assert user.run(run_id, base=owner.url)["status"] == "in_progress"

    # Round robin sends the resume to the other process, which follows the run through the
    # shared journal and wake-ups, live, to its end.
    last_seen = started.ids[-1]
    with user.follow(run_id, after=last_seen) as resumed:
        assert resumed.run_id == run_id
        assert c.process_of(resumed) is c.other(owner)
        resumed.to_end()
    assert consecutive(resumed.ids, last_seen + 1)
    assert started.deltas() + resumed.deltas() == echo_of(STEADY)
    assert resumed.answer() == echo_of(STEADY)
    assert not resumed.of_type("error")

    # No gap, no duplicate: the two pieces are exactly the run's whole journal.
    whole = user.replay(run_id)
    assert consecutive(whole.ids, 1)
    assert whole.numbered == started.numbered + resumed.numbered
    run = user.run(run_id)
    assert (run["status"], run["thread_id"], run["last_event_id"]) == (
        "completed",
        thread_id,
        resumed.ids[-1],
    )
    assert user.items(thread_id) == [
        ("user_message", WORDS),
        ("assistant_message", echo_of(STEADY)),
    ]


# SIGKILL: the other process interrupts the dead one's run


def test_a_run_whose_process_is_killed_is_interrupted_by_the_other(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster(KITHOST_RUN_LEASE_SECONDS=str(LEASE_SECONDS))
    user = c.user(SLOW)
    with user.turn("threads.create", input=user_input(WORDS)) as started:
        # Enough deltas that the first ones reached the journal before the kill.
        started.until_deltas(20)
        owner = c.process_of(started)
        survivor = c.other(owner)
        owner.kill()  # while the client reads: the balancer drops its connection
        started.rest()
    assert started.dropped
    run_id = started.run_id
    thread_id = started.of_type("thread.created")[0]["thread"]["id"]

    # Nobody asks: the survivor's lease keeper finds the lapsed lease on its own.
    def interrupted() -> dict[str, Any] | None:
        run = user.run(run_id, base=survivor.url)
        return run if run["status"] == "interrupted" else None

    run = wait_until(interrupted, timeout=5 * LEASE_SECONDS)
    assert run["ended_at"] is not None

    # Through the balancer (the dead process is skipped): what the journal had of the answer
    # is saved, marked as cut off, and a resume ends with a retryable error.
    replayed = user.replay(run_id)
    assert c.process_of(replayed) is survivor
    assert consecutive(replayed.ids, 1)
    assert replayed.ids[-1] == run["last_event_id"]
    assert_retryable_error(replayed.events[-1])
    partial = replayed.deltas()
    assert partial
    assert started.deltas().startswith(partial)
    assert user.items(thread_id) == [
        ("user_message", WORDS),
        ("assistant_message", f"{partial}\n\n{INTERRUPTED_NOTICE}"),
    ]
    # A resume from the last event the client saw ends the same way.
    with user.follow(run_id, after=started.ids[-1]) as resumed:
        resumed.to_end()
    assert resumed.events
    assert_retryable_error(resumed.events[-1])

    # The thread takes new input (a quick session of the same user).
    quick = c.user(name=user.name)
    answered = quick.post_turn(
        "threads.add_user_message", thread_id=thread_id, input=user_input("and then?")
    )
    assert answered.status_code == 200, answered.text
    assert c.process_of(answered) is survivor
    assert user.items(thread_id)[2:] == [
        ("user_message", "and then?"),
        ("assistant_message", "and then?"),
    ]


# SIGTERM: drain


def test_sigterm_lets_the_running_answer_finish_then_exits(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster(KITHOST_DRAIN_SECONDS="120")
    user = c.user(STEADY)
    with user.turn("threads.create", input=user_input(WORDS)) as stream:
        stream.until_deltas(10)
        owner = c.process_of(stream)
        survivor = c.other(owner)
        owner.terminate()

        # Draining: the health check says so (and the balancer moves on), new answers are
        # refused, the running one goes on.
        health = wait_until(lambda: _draining(owner))
        assert health.json() == {"status": "draining", "runs": 1}
        refused = user.post_turn("threads.create", base=owner.url, input=user_input("new"))
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "draining"
        wait_until(lambda: _all_land_on(c, survivor))
        stream.to_end()

    assert stream.answer() == echo_of(STEADY)
    assert stream.deltas() == echo_of(STEADY)
    assert not stream.of_type("error")
    assert owner.wait_exit(timeout=60) == SIGTERM_EXIT_CODE  # after its drain
    thread_id = stream.of_type("thread.created")[0]["thread"]["id"]
    assert user.run(stream.run_id)["status"] == "completed"
    assert user.items(thread_id) == [
        ("user_message", WORDS),
        ("assistant_message", echo_of(STEADY)),
    ]
    # The refused request left nothing behind.
    threads = user.http.post(CONVERSATION_PATH, json={"type": "threads.list", "params": {}})
    assert [thread["id"] for thread in threads.json()["data"]] == [thread_id]


def test_sigterm_interrupts_an_answer_longer_than_the_drain(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster(KITHOST_DRAIN_SECONDS="1")
    user = c.user(SLOW)
    with user.turn("threads.create", input=user_input(WORDS)) as stream:
        stream.until_deltas(10)
        owner = c.process_of(stream)
        owner.terminate()
        stream.to_end()  # the server ends it: interrupted, with a retryable error

    assert_retryable_error(stream.events[-1])
    assert consecutive(stream.ids, 1)
    assert owner.wait_exit(timeout=60) == SIGTERM_EXIT_CODE  # after its drain
    thread_id = stream.of_type("thread.created")[0]["thread"]["id"]
    partial = stream.deltas()
    assert partial
    assert echo_of(SLOW).startswith(partial)
    assert len(partial) < len(echo_of(SLOW))
    run = user.run(stream.run_id)
    assert c.process_of(user.http.get("/healthz")) is c.other(owner)
    assert (run["status"], run["last_event_id"]) == ("interrupted", stream.ids[-1])
    assert user.items(thread_id) == [
        ("user_message", WORDS),
        ("assistant_message", f"{partial}\n\n{INTERRUPTED_NOTICE}"),
    ]


def _draining(process: KithostProcess) -> httpx.Response | None:
    response = httpx.get(f"{process.url}/healthz")
    return response if response.status_code == 503 else None


def _all_land_on(c: Cluster, process: KithostProcess) -> bool:
    """Whether the balancer sends every request to ``process`` (round robin: two in a row)."""
    with httpx.Client(base_url=c.url) as http:
        return all(
            http.get("/healthz").headers[BACKEND_HEADER] == c.name_of(process) for _ in range(2)
        )
