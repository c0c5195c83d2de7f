"""Ownership checked once per request (``RequestContext.checked``), on SQLite and PostgreSQL:
the reads of a request trust its pre-check, its writes still check the owner themselves, so a
thread deleted between the pre-check and the run's writes is not found, never written back."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.context import Checked, RequestContext
from kithost.store.attachments import AttachmentRepository
from kithost.store.blobs import LocalBlobStorage
from kithost.store.database import create_engine
from kithost.store.migrate import upgrade
from kithost.store.tables import attachments, thread_items, threads
from kithost.store.threads import ThreadRepository
from tests.support.store_factories import (
    assistant_message,
    at,
    context_for,
    file_attachment,
    thread_metadata,
    user_message,
)

with warnings.catch_warnings():
    # chatkit 1.6.5 warns about its own widget classes on first import (see store_factories).
    warnings.filterwarnings("ignore", "Direct usage of named widget", DeprecationWarning)
    from chatkit.store import NotFoundError

    from kithost.store.chatkit_store import SqlChatKitStore


@pytest.fixture(scope="module")
async def store_and_engine(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[SqlChatKitStore, AsyncEngine]]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        store = SqlChatKitStore(
            ThreadRepository(engine),
            AttachmentRepository(engine),
            LocalBlobStorage(tmp_path_factory.mktemp("blobs")),
            lambda url, _base: url,
        )
        yield store, engine
    finally:
        await engine.dispose()


def checked(context: RequestContext) -> RequestContext:
    """The context of one request, as ConversationService makes it."""
    return replace(context, checked=Checked())


async def rows(engine: AsyncEngine, table: object, **equal: str) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for column, value in equal.items():
        query = query.where(table.c[column] == value)  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def test_a_thread_deleted_after_the_precheck_is_not_written_back(
    store_and_engine: tuple[SqlChatKitStore, AsyncEngine],
) -> None:
    store, engine = store_and_engine
    owner = context_for()
    thread = thread_metadata(at(0))
    await store.save_thread(thread, owner)
    await store.add_thread_item(thread.id, user_message(thread.id, "hi", at(1)), owner)

    request = checked(owner)
    await store.owned_thread(thread.id, request)  # the pre-check
    await store.delete_thread(thread.id, owner)  # another request deletes it meanwhile

    answer = assistant_message(thread.id, "too late", at(2))
    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, answer, request)
    with pytest.raises(NotFoundError):
        await store.save_item(thread.id, answer, request)
    thread.title = "a title after the answer"
    with pytest.raises(NotFoundError):
        await store.save_thread(thread, request)
    attachment = file_attachment("late.txt")
    await store.save_attachment(attachment, owner)
    with pytest.raises(NotFoundError):
        await store.save_attachment(attachment.model_copy(update={"thread_id": thread.id}), request)

    assert await rows(engine, threads, id=thread.id) == 0
    assert await rows(engine, thread_items, thread_id=thread.id) == 0
    assert await rows(engine, attachments, thread_id=thread.id) == 0
    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, checked(owner))


async def test_a_request_of_another_user_trusts_nothing_of_the_owners(
    store_and_engine: tuple[SqlChatKitStore, AsyncEngine],
) -> None:
    store, _engine = store_and_engine
    owner, other = context_for(), context_for()
    thread = thread_metadata(at(0))
    await store.save_thread(thread, owner)
    attachment = file_attachment("mine.txt")
    await store.save_attachment(attachment, owner)

    request = checked(other)
    with pytest.raises(NotFoundError):
        await store.owned_thread(thread.id, request)
    assert await store.owned_attachments([attachment.id], request) == {}
    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, user_message(thread.id, "x", at(1)), request)
    with pytest.raises(NotFoundError):
        await store.save_thread(thread.model_copy(update={"title": "pwned"}), request)
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, request)
    # Nothing of the owner's was kept for this request.
    assert request.checked is not None
    assert request.checked.threads == {}
    assert request.checked.attachments == {}
    assert (await store.load_thread(thread.id, owner)).title is None


async def test_a_request_sees_its_own_saves(
    store_and_engine: tuple[SqlChatKitStore, AsyncEngine],
) -> None:
    """What the request saved is what its later loads return (threads.update, titles)."""
    store, _engine = store_and_engine
    owner = context_for()
    request = checked(owner)
    thread = thread_metadata(at(0))
    await store.save_thread(thread, request)
    thread.title = "renamed in the same request"
    await store.save_thread(thread, request)
    assert (await store.load_thread(thread.id, request)).title == "renamed in the same request"
    assert (await store.load_thread(thread.id, owner)).title == "renamed in the same request"
