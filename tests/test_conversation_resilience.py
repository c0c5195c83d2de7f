"""Conversations that survive trouble: Stop in the middle of an answer, a server killed with
SIGKILL mid-stream, and two server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import redis
from sqlalchemy import select

from kithost.core.pagination import ListParams
from kithost.core.stop_reason import INTERRUPTED_NOTICE
from kithost.store.database import create_engine
from kithost.store.tables import runs
from kithost.store.threads import ThreadRepository
from tests.support.chatkit_client import (
    ChatFactory,
    ChatKitClient,
    Event,
    cancel_session,
    create_session,
    unique_user,
    user_input,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.process import KithostProcess
from tests.support.runs_client import forget_redis_keys

# A slow, long echo: about 1 500 words, 30 ms apart (some 45 s if nobody stops it).
SLOW = {"delay_ms": 30, "repeat": 500}
FAST_LIMIT = {"max_requests_per_1_minute": 1000}
# A Redis database of these tests' own; they delete only the keys of their own sessions.
REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def chat(server: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(server.url) as factory:
        yield factory


def after_deltas(count: int, then: Callable[[], object] | None = None) -> Callable[[Event], bool]:
    """A ``stop_when`` that fires on the ``count``-th text delta (running ``then`` first)."""
    seen = 0

    def check(event: Event) -> bool:
        nonlocal seen
        update = event.get("update", {})
        if update.get("type") == "assistant_message.content_part.text_delta":
            seen += 1
        if seen < count:
            return False
        if then is not None:
            then()
            return False  # keep reading: the server is the one to hang up
        return True

    return check


def stored_item_types(database_url: str, thread_id: str) -> list[str]:
    """Every stored item type of a thread, hidden ones included, oldest first."""

    async def run() -> list[str]:
        engine = create_engine(database_url)
        try:
            page = await ThreadRepository(engine).list_items(
                thread_id, ListParams(limit=100, order="asc")
            )
            return [item.type for item in page.data]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of protocol items."""
    return [
        (item["type"], "".join(part.get("text", "") for part in item.get("content", [])))
        for item in items
    ]


# Stop


def test_stop_mid_answer_keeps_the_partial_message(
    chat: ChatFactory, server: KithostProcess, admin: openai.OpenAI
) -> None:
    client = chat.open(state_variables=SLOW)
    words = "alpha beta gamma"
    full_answer = " ".join([words] * SLOW["repeat"])

    result = client.stream("threads.create", stop_when=after_deltas(5), input=user_input(words))
    assert result.ended_early == "stopped"
    thread_id = result.thread_id
    assistant_id = result.of_type("thread.item.added")[0]["item"]["id"]
    streamed = result.deltas()
    assert streamed == "alpha beta gamma alpha beta"

    def saved_answers() -> list[Any]:
        items = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data
        return [item for item in items if item.type == "chatkit.assistant_message"]

    saved = wait_until(saved_answers)
    assert [item.id for item in saved] == [assistant_id]
    partial = saved[0].model_dump()["content"][0]["text"]
    # What the user saw, perhaps a few words more; never the whole answer.
    assert partial.startswith(streamed)
    assert full_answer.startswith(partial)
    assert len(partial) < len(full_answer)

    # The SDK notes the cancel for the model in a hidden item, which clients never see.
    wait_until(lambda: "sdk_hidden_context" in stored_item_types(server.database_url, thread_id))
    visible = client.list_items(thread_id, order="asc")["data"]
    assert [item["type"] for item in visible] == ["user_message", "assistant_message"]
    assert visible[1]["content"][0]["text"] == partial
    # A stopped first exchange still titles the thread, from the message that opened it.
    assert wait_until(lambda: admin.beta.chatkit.threads.retrieve(thread_id).title) == words

    # The thread goes on (a quick session of the same user, to keep the test short).
    quick = chat.open(user=client.user)
    next_turn = quick.add_message(thread_id, "and then?")
    assert next_turn.status_code == 200
    assert next_turn.assistant_text() == "and then?"
    assert texts(quick.list_items(thread_id, order="asc")["data"]) == [
        ("user_message", words),
        ("assistant_message", partial),
        ("user_message", "and then?"),
        ("assistant_message", "and then?"),
    ]


# SIGKILL


def test_a_server_killed_mid_stream_keeps_the_thread(
    chat: ChatFactory, server: KithostProcess
) -> None:
    """SIGKILL in the middle of an answer, then a restart on the same database and port.

    It kills the module's own server, so it always brings it back, failed or not.
    """
    client = chat.open()
    slow_client = chat.open(user=client.user, state_variables=SLOW)
    thread_id = client.create_thread("before the crash").thread_id
    try:
        crashed = slow_client.stream(
            "threads.add_user_message",
            # Enough deltas that the first ones reached the run's journal before the kill.
            stop_when=after_deltas(20, then=server.kill),
            thread_id=thread_id,
            input=user_input("during the crash"),
        )
        assert crashed.ended_early == "dropped"
        assert server.proc is None
    finally:
        if server.proc is None:
            server.start()
    streamed = crashed.deltas()
    assert streamed.startswith("during the crash")
    sent = crashed.done_items("user_message")[0]

    # The session, the thread and the message sent before the crash are all there. The
    # restarted server sees its predecessor is gone and ends the run as interrupted, keeping
    # what the journal had of the answer, marked as cut off.
    after = client.add_message(thread_id, "after the restart")
    assert after.status_code == 200
    assert after.assistant_text() == "after the restart"
    thread = client.get_thread(thread_id)
    assert thread["status"] == {"type": "active"}
    assert thread["title"] == "before the crash"
    items = thread["items"]["data"]
    assert texts(items)[:3] == [
        ("user_message", "before the crash"),
        ("assistant_message", "before the crash"),
        ("user_message", "during the crash"),
    ]
    assert items[2]["id"] == sent["id"]
    kept = items[3]["content"][0]["text"]
    assert items[3]["type"] == "assistant_message"
    assert kept.endswith(INTERRUPTED_NOTICE)
    partial = kept.removesuffix(INTERRUPTED_NOTICE).rstrip()
    assert partial
    assert streamed.startswith(partial)
    assert texts(items)[4:] == [
        ("user_message", "after the restart"),
        ("assistant_message", "after the restart"),
    ]


# two processes, one PostgreSQL database and one Redis


def test_two_processes_share_cancels_and_the_rate_limit(
    start_kithost: Callable[..., KithostProcess], tmp_path: Path
) -> None:
    session_ids: list[str] = []
    with fresh_database("postgresql", tmp_path) as url:
        first = start_kithost(url, KITHOST_REDIS_URL=REDIS_URL)
        second = start_kithost(url, KITHOST_REDIS_URL=REDIS_URL)
        try:
            _check_shared_state(first, second, session_ids)
        finally:
            # Rate-limit keys name the session; runs' journals (Redis streams) name the run.
            forget_redis_keys(REDIS_URL, [*session_ids, *asyncio.run(_run_ids(url))])


async def _run_ids(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(runs.c.id))).scalars())
    finally:
        await engine.dispose()


def _check_shared_state(
    first: KithostProcess, second: KithostProcess, session_ids: list[str]
) -> None:
    user = unique_user()
    session = create_session(first.url, user, rate_limits=FAST_LIMIT)
    session_ids.append(session["id"])
    secret = session["client_secret"]
    with (
        ChatKitClient(first.url, secret, session) as on_first,
        ChatKitClient(second.url, secret, session) as on_second,
    ):
        # A thread made through one process is there, whole, through the other.
        thread_id = on_first.create_thread("made on the first").thread_id
        assert on_second.get_thread(thread_id)["title"] == "made on the first"
        assert on_second.add_message(thread_id, "on the second").status_code == 200
        assert len(on_first.list_items(thread_id)["data"]) == 4

        # Cancelled through the first: the second refuses it on the very next request.
        cancel_session(first.url, session["id"])
        refused = on_second.request("threads.list")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "session_cancelled"
        assert on_first.request("threads.list").status_code == 401

    limited = create_session(second.url, user, rate_limits={"max_requests_per_1_minute": 3})
    session_ids.append(limited["id"])
    secret = limited["client_secret"]
    with (
        ChatKitClient(first.url, secret, limited) as on_first,
        ChatKitClient(second.url, secret, limited) as on_second,
    ):
        # Three requests in all, spread over both processes, then both refuse.
        assert on_first.request("threads.list").status_code == 200
        assert on_second.request("threads.list").status_code == 200
        assert on_first.request("threads.list").status_code == 200
        for client in (on_second, on_first):
            refused = client.request("threads.list")
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limit_exceeded"
            assert int(refused.headers["retry-after"]) >= 1

    # The counts live in Redis (the database these tests clean up after themselves).
    with redis.Redis.from_url(REDIS_URL) as store:
        assert list(store.scan_iter(match=f"*{limited['id']}*"))
