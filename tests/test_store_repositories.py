"""The repositories under the services, in-process on SQLite and PostgreSQL: sessions (status
filters, cancellation, the upload bound under concurrency), admin API keys (digests only),
thread listing filters, the shared keyset ``paginate()``, server secrets and trace spans."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core import ids
from kithost.core.errors import InvalidRequest
from kithost.core.pagination import ListParams, Order
from kithost.core.secrets import API_KEY_PREFIX, hash_secret, new_client_secret
from kithost.core.sessions import ChatKitConfiguration, ChatSession, SessionStatus
from kithost.core.threads import ThreadRecord
from kithost.store.api_keys import ApiKeyRepository
from kithost.store.database import create_engine
from kithost.store.migrate import upgrade
from kithost.store.pagination import paginate
from kithost.store.server_secrets import get_or_create_secret
from kithost.store.sessions import SessionRepository
from kithost.store.tables import api_keys, server_secrets, sessions, threads
from kithost.store.threads import ThreadRepository
from kithost.store.traces import TraceRepository
from tests.support.store_factories import EPOCH, make_session, span, unique_user, unique_workflow


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database of the module's backend, shared by its tests (isolated by names)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def insert_session(repo: SessionRepository, session: ChatSession) -> str:
    """Insert ``session`` with a fresh client secret; return the secret's digest."""
    digest = hash_secret(new_client_secret(session.expires_at))
    await repo.insert(session, digest)
    return digest


# sessions


async def test_session_insert_then_get_and_get_by_secret_hash(engine: AsyncEngine) -> None:
    repo = SessionRepository(engine)
    session = make_session(
        configuration=ChatKitConfiguration(
            titling_enabled=False,
            uploads_enabled=True,
            max_file_size_mb=16,
            max_files=3,
            history_enabled=True,
            recent_threads=7,
        ),
        state_variables={"plan": "pro", "seats": 4, "ratio": 0.5, "beta": True},
    )
    digest = await insert_session(repo, session)

    assert await repo.get(session.id) == session
    found = await repo.get_by_secret_hash(digest)
    assert found == (session, digest)
    assert await repo.get(ids.session_id()) is None
    assert await repo.get_by_secret_hash(hash_secret("ek_unknown")) is None


async def test_session_cancel_is_idempotent_and_keeps_the_first_time(
    engine: AsyncEngine,
) -> None:
    repo = SessionRepository(engine)
    session = make_session()
    await insert_session(repo, session)
    other = make_session(session.user)
    await insert_session(repo, other)

    before = time.time()
    cancelled = await repo.cancel(session.id)
    assert cancelled is not None
    assert cancelled.status() == "cancelled"
    assert cancelled.cancelled_at is not None
    assert int(before) <= cancelled.cancelled_at <= time.time()
    assert cancelled == replace(session, cancelled_at=cancelled.cancelled_at)

    # Pretend the first cancellation happened long ago; cancelling again must not move it.
    async with engine.begin() as conn:
        await conn.execute(
            update(sessions).where(sessions.c.id == session.id).values(cancelled_at=EPOCH + 0.5)
        )
    again = await repo.cancel(session.id)
    assert again is not None
    assert again.cancelled_at == int(EPOCH)
    async with engine.connect() as conn:
        raw = await conn.scalar(select(sessions.c.cancelled_at).where(sessions.c.id == session.id))
    assert raw == EPOCH + 0.5

    assert await repo.cancel(ids.session_id()) is None
    untouched = await repo.get(other.id)
    assert untouched is not None
    assert untouched.cancelled_at is None


async def test_session_list_filters_by_status_user_and_workflow(engine: AsyncEngine) -> None:
    repo = SessionRepository(engine)
    user = unique_user()
    workflow = unique_workflow()
    now = int(time.time())
    active = make_session(user, workflow_id=workflow, created_at=now - 10)
    expired = make_session(user, created_at=now - 5000, expires_at=now - 4400)
    cancelled = make_session(user, workflow_id=workflow, created_at=now - 20)
    cancelled_expired = make_session(user, created_at=now - 9000, expires_at=now - 8400)
    someone_else = make_session(workflow_id=workflow, created_at=now - 30)
    for session in (active, expired, cancelled, cancelled_expired, someone_else):
        await insert_session(repo, session)
    for session in (cancelled, cancelled_expired):
        await repo.cancel(session.id)

    async def listed(
        user: str | None = None,
        status: SessionStatus | None = None,
        workflow_id: str | None = None,
    ) -> list[str]:
        page = await repo.list(
            ListParams(limit=100), user=user, status=status, workflow_id=workflow_id
        )
        assert not page.has_more
        return [s.id for s in page.data]

    # Newest first by default; the statuses are computed from the time.
    assert await listed(user=user) == [
        active.id,
        cancelled.id,
        expired.id,
        cancelled_expired.id,
    ]
    assert await listed(user=user, status="active") == [active.id]
    assert await listed(user=user, status="expired") == [expired.id]
    assert await listed(user=user, status="cancelled") == [cancelled.id, cancelled_expired.id]
    assert await listed(workflow_id=workflow) == [active.id, cancelled.id, someone_else.id]
    assert await listed(workflow_id=workflow, status="active") == [active.id, someone_else.id]
    assert await listed(user=user, workflow_id=workflow, status="cancelled") == [cancelled.id]

    page = await repo.list(ListParams(limit=100), user=user)
    assert {s.id: s.status() for s in page.data} == {
        active.id: "active",
        expired.id: "expired",
        cancelled.id: "cancelled",
        cancelled_expired.id: "cancelled",
    }
    page = await repo.list(ListParams(limit=2, order="asc"), user=user)
    assert ([s.id for s in page.data], page.has_more) == ([cancelled_expired.id, expired.id], True)


async def test_claim_upload_never_exceeds_max_files_under_concurrency(
    engine: AsyncEngine, database_url: str
) -> None:
    repo = SessionRepository(engine)
    session = make_session(configuration=ChatKitConfiguration(uploads_enabled=True, max_files=5))
    bystander = make_session(session.user)
    for s in (session, bystander):
        await insert_session(repo, s)

    # Two engines, as two server processes would be; 40 claims at once for 5 slots.
    second = create_engine(database_url)
    try:
        repos = [repo, SessionRepository(second)]
        results = await asyncio.gather(
            *(repos[n % 2].claim_upload(session.id, 5) for n in range(40))
        )
    finally:
        await second.dispose()

    assert sum(results) == 5
    assert await repo.claim_upload(session.id, 5) is False
    # A larger bound (the configuration is the caller's) lets more through, one at a time.
    assert await repo.claim_upload(session.id, 6) is True
    assert await repo.claim_upload(session.id, 6) is False
    assert await repo.claim_upload(ids.session_id(), 5) is False
    async with engine.connect() as conn:
        counts = dict(
            (
                await conn.execute(
                    select(sessions.c.id, sessions.c.upload_count).where(
                        sessions.c.id.in_([session.id, bystander.id])
                    )
                )
            ).all()
        )
    assert counts == {session.id: 6, bystander.id: 0}


# API keys


async def test_api_keys_create_list_find_revoke(engine: AsyncEngine) -> None:
    repo = ApiKeyRepository(engine)
    first, first_key = await repo.create("deploy bot")
    second, second_key = await repo.create("laptop")
    assert first_key.startswith(API_KEY_PREFIX)
    assert first_key != second_key
    assert first.id != second.id
    assert first.active
    assert first.hint == f"{first_key[:8]}****{first_key[-4:]}"

    everything = await repo.list()
    assert [k for k in everything if k.id in (first.id, second.id)] in (
        [first, second],
        [second, first],
    )
    assert [k.created_at for k in everything] == sorted(k.created_at for k in everything)
    assert await repo.find_active(hash_secret(first_key)) == first
    assert await repo.find_active(hash_secret(second_key)) == second
    assert await repo.find_active(first_key) is None  # the plain key is no lookup key
    active_before = await repo.count_active()

    assert await repo.revoke(first.id) is True
    assert await repo.revoke(first.id) is False
    assert await repo.revoke("key_unknown") is False
    assert await repo.find_active(hash_secret(first_key)) is None
    assert await repo.find_active(hash_secret(second_key)) == second
    assert await repo.count_active() == active_before - 1
    revoked = next(k for k in await repo.list() if k.id == first.id)
    assert not revoked.active
    assert revoked.revoked_at is not None
    assert revoked.revoked_at >= first.created_at


async def test_api_keys_store_only_digests(engine: AsyncEngine) -> None:
    repo = ApiKeyRepository(engine)
    record, key = await repo.create("digest check")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(api_keys))).all()
    assert rows
    secret_part = key[8:-4]  # what the hint hides
    for row in rows:
        for value in row:
            assert key not in str(value)
            assert secret_part not in str(value)
    row = next(r for r in rows if r.id == record.id)
    assert row.key_hash == hash_secret(key)


# threads


async def test_list_threads_filters_by_user_and_workflow(engine: AsyncEngine) -> None:
    repo = ThreadRepository(engine)
    alice, bob = unique_user(), unique_user()
    support, sales = unique_workflow(), unique_workflow()
    made: dict[str, ThreadRecord] = {}
    for n, (name, user, workflow) in enumerate(
        [
            ("a-support", alice, support),
            ("a-sales", alice, sales),
            ("b-support", bob, support),
            ("a-none", alice, None),
            ("a-support-2", alice, support),
        ]
    ):
        made[name] = ThreadRecord(
            id=ids.thread_id(), user=user, created_at=EPOCH + n, workflow_id=workflow
        )
        await repo.save_thread(made[name])

    async def listed(user: str | None = None, workflow_id: str | None = None) -> list[str]:
        page = await repo.list_threads(
            ListParams(limit=100, order="asc"), user=user, workflow_id=workflow_id
        )
        assert not page.has_more
        names = {record.id: name for name, record in made.items()}
        return [names[t.id] for t in page.data if t.id in names]

    assert await listed(user=alice) == ["a-support", "a-sales", "a-none", "a-support-2"]
    assert await listed(user=bob) == ["b-support"]
    assert await listed(workflow_id=support) == ["a-support", "b-support", "a-support-2"]
    assert await listed(user=alice, workflow_id=support) == ["a-support", "a-support-2"]
    assert await listed(user=bob, workflow_id=sales) == []
    page = await repo.list_threads(ListParams(limit=100), user=alice)
    assert page.data[0] == made["a-support-2"]


# the shared paginate()


@pytest.fixture(scope="module")
async def timeline(engine: AsyncEngine) -> tuple[str, list[str]]:
    """Six threads of one user, oldest first; the second and third tie on created_at."""
    repo = ThreadRepository(engine)
    user = unique_user()
    made = []
    for stamp in (1, 2, 2, 3, 4, 5):
        record = ThreadRecord(id=ids.thread_id(), user=user, created_at=EPOCH + stamp)
        await repo.save_thread(record)
        made.append(record.id)
    return user, made


async def page_of(engine: AsyncEngine, user: str, params: ListParams) -> tuple[list[str], bool]:
    scope: Select[tuple[object, ...]] = select(threads).where(threads.c.user_id == user)
    async with engine.connect() as conn:
        page = await paginate(conn, threads, scope, params)
    return [row.id for row in page.data], page.has_more


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_paginate_orders_with_a_stable_tiebreak(
    engine: AsyncEngine, timeline: tuple[str, list[str]], order: Order
) -> None:
    user, t = timeline
    expected = t if order == "asc" else t[::-1]
    assert await page_of(engine, user, ListParams(limit=10, order=order)) == (expected, False)
    assert await page_of(engine, user, ListParams(limit=6, order=order)) == (expected, False)
    assert await page_of(engine, user, ListParams(limit=5, order=order)) == (expected[:5], True)
    # Walking with ``after`` across the tie loses and repeats nothing.
    walked: list[str] = []
    after: str | None = None
    while True:
        ids_, more = await page_of(engine, user, ListParams(limit=1, order=order, after=after))
        walked += ids_
        if not more:
            break
        after = ids_[-1]
    assert walked == expected


async def test_paginate_unknown_or_out_of_scope_cursor_is_invalid(
    engine: AsyncEngine, timeline: tuple[str, list[str]]
) -> None:
    user, _ = timeline
    _, foreign = await other_users_thread(engine)
    for param in ("after", "before"):
        for cursor in (ids.thread_id(), foreign):
            params = ListParams(after=cursor) if param == "after" else ListParams(before=cursor)
            with pytest.raises(InvalidRequest) as caught:
                await page_of(engine, user, params)
            assert caught.value.param == param
            assert caught.value.code == "invalid_value"
            assert cursor in caught.value.message


async def other_users_thread(engine: AsyncEngine) -> tuple[str, str]:
    record = ThreadRecord(id=ids.thread_id(), user=unique_user(), created_at=EPOCH + 3)
    await ThreadRepository(engine).save_thread(record)
    return record.user, record.id


async def test_paginate_limit_zero(engine: AsyncEngine, timeline: tuple[str, list[str]]) -> None:
    user, t = timeline
    assert await page_of(engine, user, ListParams(limit=0)) == ([], True)
    assert await page_of(engine, user, ListParams(limit=0, after=t[1])) == ([], True)
    assert await page_of(engine, user, ListParams(limit=0, order="asc", after=t[-1])) == (
        [],
        False,
    )
    assert await page_of(engine, unique_user(), ListParams(limit=0)) == ([], False)


async def test_paginate_before_and_after_together(
    engine: AsyncEngine, timeline: tuple[str, list[str]]
) -> None:
    user, t = timeline
    assert await page_of(engine, user, ListParams(order="asc", after=t[0], before=t[4])) == (
        t[1:4],
        False,
    )
    assert await page_of(
        engine, user, ListParams(limit=2, order="asc", after=t[0], before=t[4])
    ) == (t[1:3], True)
    assert await page_of(engine, user, ListParams(order="desc", after=t[4], before=t[0])) == (
        [t[3], t[2], t[1]],
        False,
    )
    # Either alone; ``before`` keeps the rows preceding it in the requested order.
    assert await page_of(engine, user, ListParams(order="desc", before=t[3])) == (
        [t[5], t[4]],
        False,
    )
    assert await page_of(engine, user, ListParams(limit=1, order="asc", before=t[3])) == (
        [t[0]],
        True,
    )
    assert await page_of(engine, user, ListParams(order="asc", after=t[1])) == (t[2:], False)
    # Crossed cursors leave nothing.
    assert await page_of(engine, user, ListParams(order="asc", after=t[4], before=t[0])) == (
        [],
        False,
    )


# server secrets


async def test_get_or_create_secret_is_stable_and_race_free(
    engine: AsyncEngine, database_url: str
) -> None:
    name = f"test_secret_{uuid.uuid4().hex[:16]}"
    second = create_engine(database_url)
    try:
        values = await asyncio.gather(
            *(get_or_create_secret(e, name) for _ in range(10) for e in (engine, second))
        )
        assert len(set(values)) == 1
        value = values[0]
        assert len(value) >= 64
        assert await get_or_create_secret(engine, name) == value
        assert await get_or_create_secret(second, name) == value
    finally:
        await second.dispose()
    other = await get_or_create_secret(engine, name + "_other")
    assert other != value
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(server_secrets)
            .where(server_secrets.c.name.in_([name, name + "_other"]))
        )
    assert count == 2


# trace spans


async def test_trace_spans_come_back_in_recording_order(engine: AsyncEngine) -> None:
    repo = TraceRepository(engine)
    thread_id, other_thread = ids.thread_id(), ids.thread_id()
    # Recorded in two batches; their start times run backwards, so only the recording order
    # gives this sequence.
    first_batch = [
        span(thread_id, "agent", started_at=EPOCH + 30),
        span(thread_id, "generation", started_at=EPOCH + 20, trace_id="trace_2"),
        span(thread_id, "tool", started_at=None, error={"message": "boom", "data": None}),
    ]
    second_batch = [span(thread_id, "agent", started_at=EPOCH + 10)]
    await repo.add(first_batch)
    await repo.add([span(other_thread, "elsewhere")])
    await repo.add([])
    await repo.add(second_batch)

    assert await repo.for_thread(thread_id) == [*first_batch, *second_batch]
    assert [s.name for s in await repo.for_thread(other_thread)] == ["elsewhere"]
    assert await repo.for_thread(ids.thread_id()) == []

    await repo.delete_thread(thread_id)
    assert await repo.for_thread(thread_id) == []
    assert len(await repo.for_thread(other_thread)) == 1
