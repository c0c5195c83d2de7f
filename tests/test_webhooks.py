"""Webhooks (issue 16): endpoints over REST and the CLI, and signed deliveries from the outbox.

A receiver in the test process verifies every signature with ``standardwebhooks``. Deliveries:
a run's end and a new thread; retries until the endpoint accepts (same ``webhook-id``); out of
attempts, then a resend; a restart between attempts; two processes on one database delivering
each event once; an endpoint that never answers holding up neither runs nor other endpoints.
On SQLite and PostgreSQL. Endpoints receive every test's events, so each test looks only at
events about its own users.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.chatkit_client import (
    BETA_HEADERS,
    ChatFactory,
    ChatKitClient,
    wait_until,
)
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.webhook_receiver import Hook, Received, WebhookReceiver

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA_HEADERS}
ENDS = ["run.completed", "thread.created"]
# Four attempts a second apart; an endpoint that never answers gives up after two seconds.
FAST = {"KITHOST_WEBHOOK_RETRY_SCHEDULE": "1,1,1", "KITHOST_WEBHOOK_TIMEOUT_SECONDS": "2"}
BRIEF = {"delay_ms": 1, "repeat": 2}  # the echo workflow's answer: quick
DELIVERY_WAIT = 60.0  # generous: a loaded machine; no test waits this long when all is well


class Webhooks:
    """``/v1/chatkit/webhooks`` on one kithost, with an admin key; endpoints deleted after."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, headers=ADMIN, timeout=30)
        self.made: list[str] = []

    def create(self, url: str, events: list[str] | None = None, **fields: Any) -> httpx.Response:
        body = {"url": url, "events": ENDS if events is None else events, **fields}
        response = self.http.post("/v1/chatkit/webhooks", json=body)
        if response.status_code == 200:
            self.made.append(response.json()["id"])
        return response

    def endpoint(self, hook: Hook, receiver: WebhookReceiver, **fields: Any) -> dict[str, Any]:
        """A new endpoint for ``hook``, which verifies with its secret."""
        response = self.create(receiver.url(hook), **fields)
        assert response.status_code == 200, response.text
        endpoint: dict[str, Any] = response.json()
        hook.secret = endpoint["secret"]
        return endpoint

    def deliveries(self, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        response = self.http.get(f"/v1/chatkit/webhooks/{endpoint_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def delivery(self, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
        found = [d for d in self.deliveries(endpoint_id, limit=100) if d["id"] == delivery_id]
        assert found, delivery_id
        return found[0]

    def close(self) -> None:
        for endpoint_id in self.made:
            self.http.delete(f"/v1/chatkit/webhooks/{endpoint_id}")
        self.http.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    process = KithostProcess(database_url, tmp_path_factory.mktemp("webhooks"), FAST).start()
    yield process
    process.stop()


@pytest.fixture
def webhooks(server: KithostProcess) -> Iterator[Webhooks]:
    client = Webhooks(server.url)
    yield client
    client.close()


@pytest.fixture
def chats(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def turn(chat: ChatKitClient, text: str = "hello") -> tuple[str, str]:
    """A new thread with one answered message: (thread id, run id)."""
    result = chat.create_thread(text)
    assert result.status_code == 200, result.body
    assert result.assistant_text() == f"{text} {text}"
    return result.thread_id, result.headers["X-Kithost-Run-Id"]


def arrived(hook: Hook, user: str, event_type: str, count: int = 1) -> list[Received]:
    found: list[Received] = wait_until(
        lambda: len(hits := hook.of(user, event_type)) >= count and hits, DELIVERY_WAIT
    )
    return found


def settled(webhooks: Webhooks, endpoint_id: str, delivery_id: str, status: str) -> dict[str, Any]:
    """The delivery once it has ``status``."""

    def check() -> dict[str, Any] | None:
        delivery = webhooks.delivery(endpoint_id, delivery_id)
        return delivery if delivery["status"] == status else None

    found: dict[str, Any] = wait_until(check, DELIVERY_WAIT)
    return found


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


# -- endpoints --------------------------------------------------------------------------------
def test_endpoints_are_created_listed_updated_and_deleted(
    webhooks: Webhooks, receiver: WebhookReceiver
) -> None:
    url = receiver.base_url + "/crud"
    created = webhooks.create(url, ["run.failed", "run.completed"], description="ops").json()
    endpoint_id = created["id"]
    assert endpoint_id.startswith("whep_")
    assert created["secret"].startswith("whsec_")
    shown = {k: v for k, v in created.items() if k != "secret"}
    assert shown == {
        "id": endpoint_id,
        "object": "chatkit.webhook_endpoint",
        "url": url,
        "description": "ops",
        "events": ["run.failed", "run.completed"],
        "enabled": True,
        "created_at": created["created_at"],
    }
    http = webhooks.http
    assert http.get(f"/v1/chatkit/webhooks/{endpoint_id}").json() == shown
    second = webhooks.create(url + "/2", ["thread.created"], enabled=False).json()
    first_page = http.get("/v1/chatkit/webhooks", params={"limit": 1}).json()
    assert [e["id"] for e in first_page["data"]] == [second["id"]]  # newest first
    assert first_page["has_more"] is True
    after = {"limit": 100, "after": second["id"]}
    assert endpoint_id in [
        e["id"] for e in http.get("/v1/chatkit/webhooks", params=after).json()["data"]
    ]

    changes = {"url": url + "/v2", "events": ["run.cancelled"], "description": None}
    updated = http.post(f"/v1/chatkit/webhooks/{endpoint_id}", json=changes).json()
    assert updated == {**shown, **changes}
    disabled = http.post(f"/v1/chatkit/webhooks/{endpoint_id}", json={"enabled": False}).json()
    assert disabled == {**updated, "enabled": False}

    deleted = http.delete(f"/v1/chatkit/webhooks/{endpoint_id}")
    assert deleted.json() == {
        "id": endpoint_id,
        "object": "chatkit.webhook_endpoint.deleted",
        "deleted": True,
    }
    assert http.get(f"/v1/chatkit/webhooks/{endpoint_id}").status_code == 404


def test_secrets_are_shown_and_rotated(webhooks: Webhooks, receiver: WebhookReceiver) -> None:
    created = webhooks.create(receiver.base_url + "/secret").json()
    path = f"/v1/chatkit/webhooks/{created['id']}"
    assert webhooks.http.get(path + "/secret").json() == {"secret": created["secret"]}
    rotated = webhooks.http.post(path + "/rotate_secret").json()["secret"]
    assert rotated.startswith("whsec_")
    assert rotated != created["secret"]
    assert webhooks.http.get(path + "/secret").json() == {"secret": rotated}


def test_bad_input_unknown_ids_and_missing_keys_are_refused(
    webhooks: Webhooks, server: KithostProcess, chats: ChatFactory
) -> None:
    refused = ("ftp://example.com/x", "not a url", "http://", "https:///path", "/relative")
    for url in (*refused, "https://example.com/\n", "http://user:password@example.com/"):
        assert error_of(webhooks.create(url), 400)["param"] == "url", url
    error = error_of(webhooks.create("https://example.com", ["run.completed", "run.exploded"]), 400)
    assert error["param"] == "events[1]"
    assert "run.exploded" in error["message"]
    assert all(kind in error["message"] for kind in ["thread.created", *ENDS, "run.failed"])
    assert error_of(webhooks.create("https://example.com", []), 400)["param"] == "events"
    nul = webhooks.create("https://example.com", description="a\x00b")
    assert error_of(nul, 400)["param"] == "description"
    long = webhooks.create("https://example.com", description="x" * 513)
    assert error_of(long, 400)["param"] == "description"
    odd = webhooks.create("https://example.com", secret="mine")
    assert error_of(odd, 400)["code"] == "unknown_parameter"
    assert webhooks.http.post("/v1/chatkit/webhooks", json={"events": ENDS}).status_code == 400

    endpoint = webhooks.create("https://example.com/hook").json()
    path = f"/v1/chatkit/webhooks/{endpoint['id']}"
    assert error_of(webhooks.http.post(path, json={"url": None}), 400)["param"] == "url"
    assert (
        error_of(webhooks.http.post(path, json={"events": ["nope"]}), 400)["param"] == "events[0]"
    )

    missing = "whep_" + "0" * 48
    for method, suffix in [
        ("GET", ""),
        ("POST", ""),
        ("DELETE", ""),
        ("GET", "/secret"),
        ("POST", "/rotate_secret"),
        ("GET", "/deliveries"),
        ("POST", "/deliveries/msg_" + "0" * 48 + "/resend"),
    ]:
        for endpoint_id in (missing, "cthr_123"):
            response = webhooks.http.request(
                method, f"/v1/chatkit/webhooks/{endpoint_id}{suffix}", json={}
            )
            error_of(response, 404)
    error_of(webhooks.http.post(path + "/deliveries/msg_" + "0" * 48 + "/resend"), 404)

    anonymous = httpx.get(server.url + "/v1/chatkit/webhooks", headers=BETA_HEADERS)
    error_of(anonymous, 401)
    secret = chats.open().client_secret
    as_browser = {"Authorization": f"Bearer {secret}", **BETA_HEADERS}
    error_of(httpx.get(server.url + "/v1/chatkit/webhooks", headers=as_browser), 401)
    no_beta = {"Authorization": f"Bearer {ADMIN_KEY}"}
    error_of(httpx.get(server.url + "/v1/chatkit/webhooks", headers=no_beta), 400)


# -- deliveries -------------------------------------------------------------------------------
def test_a_run_and_a_new_thread_arrive_signed(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory, server: KithostProcess
) -> None:
    hook = receiver.hook()
    endpoint = webhooks.endpoint(hook, receiver)
    chat = chats.open(state_variables=BRIEF)
    thread_id, run_id = turn(chat)

    [completed] = arrived(hook, chat.user, "run.completed")
    run = httpx.get(f"{server.url}/v1/chatkit/runs/{run_id}", headers=ADMIN).json()
    assert completed.verified
    assert completed.data == run
    assert run["status"] == "completed"
    assert completed.headers["content-type"] == "application/json"
    assert completed.headers["user-agent"].startswith("kithost/")
    [created] = arrived(hook, chat.user, "thread.created")
    assert created.verified
    assert (created.data["id"], created.data["object"]) == (thread_id, "chatkit.thread")
    assert created.event["timestamp"].endswith("Z")

    deliveries = {d["id"]: d for d in webhooks.deliveries(endpoint["id"], limit=100)}
    for received in (completed, created):
        delivery = deliveries[received.webhook_id]
        assert delivery["event_type"] == received.type
        assert delivery["endpoint_id"] == endpoint["id"]
        delivery = settled(webhooks, endpoint["id"], received.webhook_id, "delivered")
        assert (delivery["attempts"], delivery["last_status_code"]) == (1, 200)
        assert delivery["object"] == "chatkit.webhook_delivery"
        assert delivery["next_attempt_at"] is None
        assert delivery["delivered_at"] >= delivery["created_at"]
        assert delivery["last_error"] is None
    assert hook.attempts()[completed.webhook_id] == 1


def test_after_a_rotation_deliveries_verify_with_the_new_secret_only(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook()
    endpoint = webhooks.endpoint(hook, receiver, events=["thread.created"])
    old = hook.secret
    response = webhooks.http.post(f"/v1/chatkit/webhooks/{endpoint['id']}/rotate_secret")
    hook.secret = response.json()["secret"]
    chat = chats.open(state_variables=BRIEF)
    turn(chat)
    [created] = arrived(hook, chat.user, "thread.created")
    assert created.verified
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(created.body, created.headers)


def test_a_delivery_is_retried_until_the_endpoint_accepts_it(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook(fail_first=2)
    endpoint = webhooks.endpoint(hook, receiver, events=["run.completed"])
    chat = chats.open(state_variables=BRIEF)
    turn(chat)
    attempts = arrived(hook, chat.user, "run.completed", count=3)
    assert [r.status for r in attempts] == [500, 500, 200]
    assert len({r.webhook_id for r in attempts}) == 1
    assert all(r.verified for r in attempts)
    assert len({r.body for r in attempts}) == 1
    mine = [
        d
        for d in webhooks.deliveries(endpoint["id"], limit=100)
        if d["id"] == attempts[0].webhook_id
    ]
    assert len(mine) == 1
    delivery = settled(webhooks, endpoint["id"], attempts[0].webhook_id, "delivered")
    assert (delivery["attempts"], delivery["last_status_code"]) == (3, 200)
    assert delivery["last_error"] is None


def test_out_of_attempts_is_failed_and_a_resend_delivers(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook(refusing=True)
    endpoint = webhooks.endpoint(hook, receiver, events=["run.completed"])
    chat = chats.open(state_variables=BRIEF)
    turn(chat)
    [first, *_] = arrived(hook, chat.user, "run.completed")
    delivery = settled(webhooks, endpoint["id"], first.webhook_id, "failed")
    assert delivery["attempts"] == 4  # the first, then the schedule's three
    assert delivery["last_status_code"] == 500
    assert "500" in delivery["last_error"]
    assert delivery["next_attempt_at"] is None
    assert delivery["delivered_at"] is None
    assert len(hook.of(chat.user, "run.completed")) == 4

    hook.refusing = False
    path = f"/v1/chatkit/webhooks/{endpoint['id']}/deliveries/{first.webhook_id}/resend"
    resent = webhooks.http.post(path)
    assert resent.status_code == 200, resent.text
    assert (resent.json()["id"], resent.json()["status"]) == (first.webhook_id, "pending")
    last = arrived(hook, chat.user, "run.completed", count=5)[-1]
    assert (last.webhook_id, last.status, last.verified) == (first.webhook_id, 200, True)
    delivered = settled(webhooks, endpoint["id"], first.webhook_id, "delivered")
    assert (delivered["attempts"], delivered["last_status_code"]) == (5, 200)


def test_deliveries_are_listed_newest_first_in_pages(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook()
    endpoint = webhooks.endpoint(hook, receiver)
    chat = chats.open(state_variables=BRIEF)
    for text in ("one", "two"):
        turn(chat, text)
    arrived(hook, chat.user, "run.completed", count=2)
    every = webhooks.deliveries(endpoint["id"], limit=100)
    assert len(every) >= 4
    assert [d["created_at"] for d in every] == sorted(
        (d["created_at"] for d in every), reverse=True
    )
    first = webhooks.deliveries(endpoint["id"], limit=1)
    second = webhooks.deliveries(endpoint["id"], limit=1, after=first[0]["id"])
    assert [first[0]["id"], second[0]["id"]] == [d["id"] for d in every[:2]]


def test_an_endpoint_that_never_answers_holds_up_no_run_and_no_other_endpoint(
    webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    stuck_hook, working_hook = receiver.hook(hang=True), receiver.hook()
    stuck = webhooks.endpoint(stuck_hook, receiver)
    webhooks.endpoint(working_hook, receiver)
    users = []
    for n in range(4):
        chat = chats.open(state_variables=BRIEF)
        turn(chat, f"message{n}")  # the run completes (the answer is whole)
        users.append(chat.user)
    for user in users:
        arrived(working_hook, user, "run.completed")
        arrived(working_hook, user, "thread.created")
    assert all(r.verified for r in working_hook.received)
    # The stuck endpoint got attempts, which timed out and wait for their retries.
    arrived(stuck_hook, users[0], "thread.created")
    timed_out = wait_until(
        lambda: [d for d in webhooks.deliveries(stuck["id"], limit=100) if d["attempts"] >= 1],
        DELIVERY_WAIT,
    )
    assert all(d["status"] != "delivered" for d in timed_out)
    assert all("no answer within 2 s" in d["last_error"] for d in timed_out)
    assert all(d["last_status_code"] is None for d in timed_out)


# -- processes --------------------------------------------------------------------------------
def test_a_restart_between_attempts_still_delivers(
    server: KithostProcess, webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook(refusing=True)
    endpoint = webhooks.endpoint(hook, receiver, events=["run.completed"])
    chat = chats.open(state_variables=BRIEF)
    turn(chat)
    [first] = arrived(hook, chat.user, "run.completed")
    assert first.status == 500
    # Until the server is down, later attempts hang (the one in flight at shutdown is
    # abandoned, not counted): the schedule's four attempts are not used up meanwhile.
    hook.hang = True
    server.stop()
    hook.hang = hook.refusing = False  # from now on only the restarted server can send
    before = len(hook.received)
    server.start()
    delivered = arrived(hook, chat.user, "run.completed", count=before + 1)[-1]
    assert (delivered.webhook_id, delivered.status) == (first.webhook_id, 200)
    assert delivered.verified
    row = settled(webhooks, endpoint["id"], first.webhook_id, "delivered")
    assert 2 <= row["attempts"] <= before + 1
    assert row["last_status_code"] == 200


def test_two_processes_on_one_database_deliver_each_event_once(
    server: KithostProcess,
    webhooks: Webhooks,
    receiver: WebhookReceiver,
    start_kithost: Callable[..., KithostProcess],
) -> None:
    """The module's server and a second one on its database (a PostgreSQL database, an
    SQLite file) deliver from one outbox."""
    second = start_kithost(server.database_url, **FAST)
    hook = receiver.hook()
    endpoint = webhooks.endpoint(hook, receiver)
    users = []
    for n in range(6):
        with ChatFactory((server, second)[n % 2].url) as chats:
            chat = chats.open(state_variables=BRIEF)
            turn(chat, f"message{n}")
            users.append(chat.user)
    for user in users:
        arrived(hook, user, "run.completed")
        arrived(hook, user, "thread.created")

    def delivered() -> list[dict[str, Any]]:
        rows = webhooks.deliveries(endpoint["id"], limit=100)
        return [row for row in rows if row["status"] == "delivered"]

    rows = wait_until(lambda: len(done := delivered()) == 2 * len(users) and done)
    assert all(row["attempts"] == 1 for row in rows)
    assert sorted(hook.attempts().values()) == [1] * len(rows)
    assert {r.webhook_id for r in hook.received} == {row["id"] for row in rows}
    assert all(r.verified for r in hook.received)


# -- the CLI ----------------------------------------------------------------------------------
def test_the_cli_creates_an_endpoint_the_server_delivers_to(
    server: KithostProcess, webhooks: Webhooks, receiver: WebhookReceiver, chats: ChatFactory
) -> None:
    hook = receiver.hook()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITHOST_")}
    env.update(
        KITHOST_DATABASE_URL=server.database_url, KITHOST_DATA_DIR=str(server.workdir / "data")
    )
    command = [sys.executable, "-m", "kithost", "webhooks"]
    created = subprocess.run(
        [*command, "create", receiver.url(hook), "--events", "run.completed,thread.created"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(": ", 1) for line in created.stdout.splitlines() if ": " in line)
    endpoint_id, hook.secret = fields["id"], fields["secret"]
    webhooks.made.append(endpoint_id)
    shown = webhooks.http.get(f"/v1/chatkit/webhooks/{endpoint_id}/secret").json()
    assert shown == {"secret": hook.secret}
    chat = chats.open(state_variables=BRIEF)
    turn(chat)
    [completed] = arrived(hook, chat.user, "run.completed")
    assert completed.verified
    listed = subprocess.run(
        [*command, "deliveries", endpoint_id], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert completed.webhook_id in listed.stdout
