"""The runs' journal and wake-ups that processes share (issue 14).

The ``Journal`` contract, run against the ``run_events`` table on SQLite and PostgreSQL and
against Redis Streams (this machine's Redis, database 11, a key prefix of each test's own); the
Redis journal's own promises (expiry, a batch written twice); a real kithost process with
``KITHOST_REDIS_URL`` journaling to Redis; and ``Signals`` carrying wake-ups and cancels from
one instance to another over PostgreSQL ``LISTEN/NOTIFY`` and Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.runs.backends import open_journal, open_signals
from kithost.runs.journal import Journal
from kithost.runs.model import new_run_id
from kithost.runs.redis_journal import RedisJournal
from kithost.runs.signals import PostgresSignals, RedisSignals, Signals
from kithost.settings import Settings
from kithost.store.database import create_engine
from kithost.store.migrate import upgrade
from kithost.store.runs import SqlJournal
from kithost.store.tables import run_events
from tests.support.chatkit_client import (
    CONVERSATION_PATH,
    create_session,
    unique_user,
    user_input,
    wait_until,
)
from tests.support.databases import fresh_database
from tests.support.process import KithostProcess

# A Redis database of the tests' own; each test deletes the keys it made.
REDIS_URL = "redis://127.0.0.1:6379/11"
JOURNALS = ("sqlite", "postgresql", "redis")
RETENTION = 600.0
# How long a signal may take to arrive before the test gives up (a deadline, not a measure).
DEADLINE = 15.0


def events_of(count: int, tag: str = "") -> list[bytes]:
    """SSE-shaped events, each different."""
    return [b'data: {"n":%d,"tag":"%b"}\n\n' % (n, tag.encode()) for n in range(1, count + 1)]


async def read_all(journal: Journal, run_id: str, after: int = 0) -> list[tuple[int, bytes]]:
    """Every event after ``after``, page by page as a follower reads them."""
    found: list[tuple[int, bytes]] = []
    while batch := await journal.read(run_id, after):
        found.extend(batch)
        after = batch[-1][0]
    return found


async def delete_prefix(prefix: str) -> None:
    async with Redis.from_url(REDIS_URL) as store:
        keys = [key async for key in store.scan_iter(match=f"{prefix}:*")]
        if keys:
            await store.delete(*keys)


# the journals under test


@pytest.fixture(scope="module", params=JOURNALS)
def journal_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(kind, URL): a fresh database of the module's for the SQL journals, or the Redis."""
    kind = str(request.param)
    if kind == "redis":
        yield kind, REDIS_URL
        return
    with fresh_database(kind, tmp_path_factory.mktemp(kind)) as url:
        yield kind, url


@pytest.fixture(scope="module")
async def journal_engine(journal_store: tuple[str, str]) -> AsyncIterator[AsyncEngine | None]:
    """The migrated database's engine, shared by the module's tests (isolated by run ids)."""
    kind, url = journal_store
    if kind == "redis":
        yield None
        return
    engine = create_engine(url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def journal(journal_engine: AsyncEngine | None) -> AsyncIterator[Journal]:
    if journal_engine is not None:
        sql = SqlJournal(journal_engine)
        yield sql
        await sql.close()
        return
    prefix = f"kithost-test-{uuid.uuid4().hex}"
    journal = RedisJournal(REDIS_URL, RETENTION, prefix=prefix)
    try:
        yield journal
    finally:
        await journal.close()
        await delete_prefix(prefix)


@pytest.fixture
async def redis_journal() -> AsyncIterator[RedisJournal]:
    prefix = f"kithost-test-{uuid.uuid4().hex}"
    journal = RedisJournal(REDIS_URL, RETENTION, prefix=prefix)
    try:
        yield journal
    finally:
        await journal.close()
        await delete_prefix(prefix)


# the Journal contract


async def test_events_come_back_in_order_across_batches(journal: Journal) -> None:
    run_id = new_run_id()
    events = events_of(10)
    await journal.append([(run_id, seq, data) for seq, data in enumerate(events[:4], 1)])
    await journal.append([(run_id, 5, events[4])])
    await journal.append([(run_id, seq, data) for seq, data in enumerate(events[5:], 6)])

    assert await journal.read(run_id, 0) == list(enumerate(events, 1))


async def test_read_after_a_sequence_number(journal: Journal) -> None:
    run_id = new_run_id()
    events = events_of(8)
    await journal.append([(run_id, seq, data) for seq, data in enumerate(events, 1)])

    assert await journal.read(run_id, 3) == list(enumerate(events, 1))[3:]
    assert await journal.read(run_id, 7) == [(8, events[7])]
    assert await journal.read(run_id, 8) == []
    assert await journal.read(run_id, 100) == []
    assert await journal.read(new_run_id(), 0) == []


async def test_limit_pages_through_the_events(journal: Journal) -> None:
    run_id = new_run_id()
    events = events_of(7)
    await journal.append([(run_id, seq, data) for seq, data in enumerate(events, 1)])

    assert await journal.read(run_id, 0, limit=3) == [
        (1, events[0]),
        (2, events[1]),
        (3, events[2]),
    ]
    assert await journal.read(run_id, 5, limit=3) == [(6, events[5]), (7, events[6])]
    pages: list[list[tuple[int, bytes]]] = []
    after = 0
    while page := await journal.read(run_id, after, limit=2):
        pages.append(page)
        after = page[-1][0]
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [event for page in pages for event in page] == list(enumerate(events, 1))


async def test_batches_of_two_runs_interleaved(journal: Journal) -> None:
    first, second = new_run_id(), new_run_id()
    mine, theirs = events_of(5, "first"), events_of(4, "second")
    await journal.append(
        [
            (first, 1, mine[0]),
            (second, 1, theirs[0]),
            (first, 2, mine[1]),
            (second, 2, theirs[1]),
            (second, 3, theirs[2]),
        ]
    )
    await journal.append([(second, 4, theirs[3]), (first, 3, mine[2])])
    await journal.append([(first, 4, mine[3]), (first, 5, mine[4])])

    assert await journal.read(first, 0) == list(enumerate(mine, 1))
    assert await journal.read(second, 0) == list(enumerate(theirs, 1))
    assert await journal.read(second, 2) == [(3, theirs[2]), (4, theirs[3])]


async def test_forget_deletes_only_the_runs_named(journal: Journal) -> None:
    gone, kept, also_gone = new_run_id(), new_run_id(), new_run_id()
    events = events_of(3)
    await journal.append(
        [(run, seq, data) for run in (gone, kept, also_gone) for seq, data in enumerate(events, 1)]
    )

    await journal.forget([gone, also_gone, new_run_id()])
    await journal.forget([])

    assert await journal.read(gone, 0) == []
    assert await journal.read(also_gone, 0) == []
    assert await journal.read(kept, 0) == list(enumerate(events, 1))


async def test_payloads_are_kept_byte_for_byte(journal: Journal) -> None:
    run_id = new_run_id()
    payloads = [
        bytes(range(256)),
        b"\x00",
        b"",
        b"\xff\xfe not utf-8 \xc3\x28",
        'data: {"text":"caf\u00e9 \u2603 \U0001f600"}\n\n'.encode(),
        b"\r\n\r\n",
        b"x" * 100_000,
    ]
    await journal.append([(run_id, seq, data) for seq, data in enumerate(payloads, 1)])

    assert await journal.read(run_id, 0) == list(enumerate(payloads, 1))


async def test_a_large_batch(journal: Journal) -> None:
    run_id, neighbour = new_run_id(), new_run_id()
    events = events_of(5000)
    batch = [(run_id, seq, data) for seq, data in enumerate(events, 1)]
    await journal.append([*batch[:2500], (neighbour, 1, b"other"), *batch[2500:]])

    first_page = await journal.read(run_id, 0)
    assert first_page == list(enumerate(events, 1))[:1000]
    assert await read_all(journal, run_id) == list(enumerate(events, 1))
    assert await read_all(journal, run_id, after=4990) == list(enumerate(events, 1))[4990:]
    assert await journal.read(neighbour, 0) == [(1, b"other")]


async def test_a_reader_never_sees_part_of_a_batch(journal: Journal) -> None:
    """A follower on another process reads while the owner writes: whole batches only."""
    run_id = new_run_id()
    size, batches = 250, 30
    events = events_of(size * batches)

    async def write() -> None:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            await journal.append([(run_id, start + n, data) for n, data in enumerate(chunk, 1)])

    async def follow() -> list[int]:
        """Read what is new, again and again; the positions where each read ended."""
        ends: list[int] = []
        position = 0
        while not writer.done():
            position += len(await journal.read(run_id, position, limit=len(events)))
            ends.append(position)
        return ends

    writer = asyncio.create_task(write())
    followed = await asyncio.gather(follow(), follow(), follow())
    await writer

    for ends in followed:
        assert [end for end in ends if end % size] == []
    assert await read_all(journal, run_id) == list(enumerate(events, 1))


# Redis's own promises


async def test_redis_streams_live_under_the_prefix_and_expire(
    redis_journal: RedisJournal,
) -> None:
    run_id = new_run_id()
    await redis_journal.append([(run_id, 1, b"one"), (run_id, 2, b"two")])

    async with Redis.from_url(REDIS_URL) as store:
        key = redis_journal.key(run_id)
        assert key.endswith(f":run:{run_id}:events")
        assert await store.type(key) == b"stream"
        assert await store.xlen(key) == 2
        assert [entry_id for entry_id, _ in await store.xrange(key) or []] == [b"0-1", b"0-2"]
        # Retention plus the margin: a stream that no process sweeps still goes.
        assert RETENTION < await store.ttl(key) <= RETENTION + 3600

        await redis_journal.forget([run_id])
        assert await store.exists(key) == 0


async def test_a_redis_stream_nobody_sweeps_expires() -> None:
    prefix = f"kithost-test-{uuid.uuid4().hex}"
    journal = RedisJournal(REDIS_URL, 1, prefix=prefix, expiry_margin_seconds=0)
    run_id = new_run_id()
    try:
        await journal.append([(run_id, 1, b"left behind by a dead process")])
        assert await journal.read(run_id, 0) == [(1, b"left behind by a dead process")]
        async with Redis.from_url(REDIS_URL) as store:
            for _ in range(int(DEADLINE * 10)):
                if not await store.exists(journal.key(run_id)):
                    break
                await asyncio.sleep(0.1)
        assert await journal.read(run_id, 0) == []
    finally:
        await journal.close()
        await delete_prefix(prefix)


async def test_a_redis_batch_written_twice_is_stored_once(redis_journal: RedisJournal) -> None:
    """The owner retries a write whose answer it lost: the events already there stay as
    they are, and the new ones land."""
    run_id, other = new_run_id(), new_run_id()
    events = events_of(4)
    await redis_journal.append([(run_id, 1, events[0]), (run_id, 2, events[1]), (other, 1, b"o")])

    await redis_journal.append(
        [(run_id, 1, events[0]), (run_id, 2, events[1]), (run_id, 3, events[2]), (other, 2, b"p")]
    )
    await redis_journal.append([(run_id, 4, events[3])])

    assert await redis_journal.read(run_id, 0) == list(enumerate(events, 1))
    assert await redis_journal.read(other, 0) == [(1, b"o"), (2, b"p")]


async def test_the_journal_follows_the_settings(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kithost.db'}"
    engine = create_engine(url)
    with_redis = Settings(_env_file=None, database_url=url, redis_url=REDIS_URL)
    without = Settings(_env_file=None, database_url=url, redis_url=None)
    redis_based = open_journal(with_redis, engine)
    try:
        assert isinstance(redis_based, RedisJournal)
        assert isinstance(open_journal(without, engine), SqlJournal)
    finally:
        await redis_based.close()
        await engine.dispose()


# a kithost process with KITHOST_REDIS_URL


def test_a_kithost_process_journals_runs_to_redis(
    start_kithost: Callable[..., KithostProcess], database_url: str
) -> None:
    server = start_kithost(database_url, KITHOST_REDIS_URL=REDIS_URL)
    session = create_session(
        server.url,
        unique_user(),
        state_variables={"delay_ms": 20, "repeat": 20},
        rate_limits={"max_requests_per_1_minute": 1000},
    )
    run_id = ""
    try:
        run_id = _check_redis_journal(server, session["client_secret"])
    finally:
        with redis.Redis.from_url(REDIS_URL) as store:
            keys = list(store.scan_iter(match=f"*{session['id']}*"))
            if run_id:
                keys.append(f"kithost:run:{run_id}:events".encode())
            if keys:
                store.delete(*keys)


def _numbered(body: bytes) -> list[tuple[int, bytes]]:
    """``id: <seq>\\n`` + event, for every event of a detached stream."""
    pattern = re.compile(rb"id: (\d+)\n(data: [^\n]*\n\n)")
    events = [(int(seq), event) for seq, event in pattern.findall(body)]
    assert b"".join(b"id: %d\n%b" % event for event in events) == body
    return events


def _check_redis_journal(server: KithostProcess, secret: str) -> str:
    auth = {"Authorization": f"Bearer {secret}"}
    request = {"type": "threads.create", "params": {"input": user_input("alpha beta gamma")}}
    body = json.dumps(request).encode()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        # A detached turn, left after its first few events: it goes on, journaling.
        headers = {
            **auth,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-Kithost-Detach": "true",
        }
        seen = b""
        with http.stream("POST", CONVERSATION_PATH, content=body, headers=headers) as response:
            assert response.status_code == 200, response.read()
            run_id = response.headers["X-Kithost-Run-Id"]
            for chunk in response.iter_raw():
                seen += chunk
                if seen.count(b"\n\n") >= 5:
                    break
        early = _numbered(b"".join(block + b"\n\n" for block in seen.split(b"\n\n")[:5]))
        assert [seq for seq, _ in early] == [1, 2, 3, 4, 5]

        def finished() -> dict[str, object] | None:
            run = http.get(f"/v1/chatkit/runs/{run_id}", headers=auth).json()
            return run if run["status"] != "in_progress" else None

        run = wait_until(finished, timeout=60)
        assert run["status"] == "completed"
        last = run["last_event_id"]
        assert isinstance(last, int)
        assert last > len(early)

        # The events are in the run's Redis stream, and not in the database's table.
        with redis.Redis.from_url(REDIS_URL) as store:
            key = f"kithost:run:{run_id}:events"
            entries = store.xrange(key)
            assert [entry_id for entry_id, _ in entries] == [
                f"0-{seq}".encode() for seq in range(1, last + 1)
            ]
            stored = [(seq, fields[b"e"]) for seq, (_, fields) in enumerate(entries, 1)]
            assert stored[: len(early)] == early
            assert 0 < store.ttl(key) <= 3600 + 3600
        assert _journal_rows(server.database_url, run_id) == 0

        # The finished run is replayed from that stream, byte for byte after the resume point.
        replay = http.get(
            f"/v1/chatkit/runs/{run_id}/events", headers={**auth, "Last-Event-ID": "3"}
        )
        assert replay.status_code == 200
        assert _numbered(replay.content) == stored[3:]
        assert b'"type":"thread.item.done"' in replay.content

        # Proof of where it came from: without the stream there is nothing to replay.
        with redis.Redis.from_url(REDIS_URL) as store:
            assert store.delete(key) == 1
        assert http.get(f"/v1/chatkit/runs/{run_id}/events", headers=auth).content == b""
    return run_id


def _journal_rows(database_url: str, run_id: str) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                query = select(func.count()).where(run_events.c.run_id == run_id)
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


# wake-ups between processes


@pytest.fixture(scope="module")
def signals_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("signals")) as url:
        yield url


@pytest.fixture(params=("postgresql", "redis"))
async def signal_pair(
    request: pytest.FixtureRequest, signals_database: str
) -> AsyncIterator[tuple[Signals, Signals]]:
    """Two instances as two processes would open them: same PostgreSQL database, or same
    Redis."""
    redis_url = REDIS_URL if request.param == "redis" else None
    settings = Settings(_env_file=None, database_url=signals_database, redis_url=redis_url)
    engine = create_engine(signals_database)
    pair = (open_signals(settings, engine), open_signals(settings, engine))
    expected = RedisSignals if request.param == "redis" else PostgresSignals
    assert all(type(signals) is expected for signals in pair)
    try:
        for signals in pair:
            await signals.start()
        await _listening(*pair)
        yield pair
    finally:
        for signals in pair:
            await signals.close()
        await engine.dispose()


async def _listening(first: Signals, second: Signals) -> None:
    """Wait until ``second`` hears ``first`` (a subscription may still be on its way)."""
    probe = new_run_id()
    with second.watch(probe) as woke:
        for _ in range(int(DEADLINE * 10)):
            await first.events_appended([probe])
            try:
                await asyncio.wait_for(woke.wait(), 0.1)
                return
            except TimeoutError:
                continue
    raise AssertionError("the second Signals instance never heard the first")


async def test_a_wake_up_reaches_the_other_instance(signal_pair: tuple[Signals, Signals]) -> None:
    first, second = signal_pair
    cancels: list[str] = []
    second.on_cancel = cancels.append
    run_id, quiet = new_run_id(), new_run_id()

    with second.watch(run_id) as woke, second.watch(quiet) as not_woken:
        await first.events_appended([run_id])
        await asyncio.wait_for(woke.wait(), DEADLINE)
        assert not not_woken.is_set()
    assert run_id not in cancels

    # Many runs at once (more than one NOTIFY payload holds): every follower wakes.
    many = [new_run_id() for _ in range(250)]
    with contextlib.ExitStack() as stack:
        events = [stack.enter_context(second.watch(run)) for run in many]
        await first.events_appended(many)
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), DEADLINE)


async def test_a_cancel_reaches_the_other_instance(signal_pair: tuple[Signals, Signals]) -> None:
    first, second = signal_pair
    here: list[str] = []
    there: list[str] = []
    first.on_cancel = here.append
    second.on_cancel = there.append
    run_id = new_run_id()

    with second.watch(run_id) as woke:
        await first.cancel_requested(run_id)
        await asyncio.wait_for(woke.wait(), DEADLINE)

    # The other process is told once; this one too (the run may be its own), without waiting
    # for its own message to come back.
    assert [run for run in there if run == run_id] == [run_id]
    assert run_id in here
