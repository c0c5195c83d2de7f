"""``SqlChatKitStore`` against chatkit's ``Store`` contract (chatkit-protocol.md §5), in-process,
on SQLite and PostgreSQL: ids, ownership, upserts, idempotent adds, exclusive-cursor paging with
stable ties, history settings, cascading deletes, attachments and feedback."""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import AnyUrl
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core import ids
from kithost.core.context import RequestContext
from kithost.core.sessions import ChatKitConfiguration
from kithost.core.signing import FileLinks, LinkSigner
from kithost.store.attachments import AttachmentRecord, AttachmentRepository
from kithost.store.blobs import LocalBlobStorage
from kithost.store.database import create_engine
from kithost.store.migrate import upgrade
from kithost.store.tables import attachments, item_feedback, thread_items, threads, trace_spans
from kithost.store.threads import ThreadRepository
from kithost.store.traces import TraceRepository
from tests.support.store_factories import (
    PUBLIC_URL,
    assistant_message,
    at,
    context_for,
    end_of_turn,
    file_attachment,
    hidden_context,
    image_attachment,
    sdk_hidden_context,
    span,
    thread_metadata,
    unique_user,
    user_message,
)

with warnings.catch_warnings():
    # chatkit 1.6.5 warns about its own widget classes on first import (see store_factories).
    warnings.filterwarnings("ignore", "Direct usage of named widget", DeprecationWarning)
    from chatkit.store import NotFoundError, StoreItemType
    from chatkit.types import (
        ClosedStatus,
        FileAttachment,
        ImageAttachment,
        LockedStatus,
        Page,
        ThreadItem,
        ThreadMetadata,
        UserMessageItem,
    )

    from kithost.store.chatkit_store import SqlChatKitStore


class PreviewLinks:
    """kithost's own link refresher (``FileLinks.refresh``), logging what the store asks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str]] = []
        self._links = FileLinks(LinkSigner("test-signing-key"))

    def __call__(self, stored_url: str | None, public_url: str) -> str | None:
        self.calls.append((stored_url, public_url))
        return self._links.refresh(stored_url, public_url)


@dataclass(frozen=True)
class Harness:
    engine: AsyncEngine
    store: SqlChatKitStore
    threads: ThreadRepository
    attachments: AttachmentRepository
    blobs: LocalBlobStorage
    blob_root: Path
    links: PreviewLinks


@pytest.fixture(scope="module")
async def harness(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    """A migrated database of the module's backend and a store on it (tests isolate by user)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        blob_root = tmp_path_factory.mktemp("blobs")
        thread_repo = ThreadRepository(engine)
        attachment_repo = AttachmentRepository(engine)
        blobs = LocalBlobStorage(blob_root)
        links = PreviewLinks()
        store = SqlChatKitStore(thread_repo, attachment_repo, blobs, links)
        yield Harness(engine, store, thread_repo, attachment_repo, blobs, blob_root, links)
    finally:
        await engine.dispose()


# helpers


async def count_rows(engine: AsyncEngine, table: Table, **equal: Any) -> int:
    query = select(func.count()).select_from(table)
    for column, value in equal.items():
        query = query.where(table.c[column] == value)
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def new_thread(
    store: SqlChatKitStore, context: RequestContext, seconds: float = 0.0, **fields: Any
) -> ThreadMetadata:
    thread = thread_metadata(at(seconds), **fields)
    await store.save_thread(thread, context)
    return thread


async def all_threads(
    store: SqlChatKitStore, context: RequestContext, order: str, limit: int
) -> tuple[list[str], list[Page[ThreadMetadata]]]:
    """Page through ``load_threads`` with ``after`` cursors; every id and every page."""
    ids_seen: list[str] = []
    pages: list[Page[ThreadMetadata]] = []
    after: str | None = None
    while True:
        page = await store.load_threads(limit, after, order, context)
        pages.append(page)
        ids_seen.extend(t.id for t in page.data)
        if not page.has_more:
            return ids_seen, pages
        assert len(pages) <= 50, "pagination does not terminate"
        after = page.after


async def all_items(
    store: SqlChatKitStore, thread_id: str, context: RequestContext, order: str, limit: int
) -> tuple[list[str], list[Page[ThreadItem]]]:
    ids_seen: list[str] = []
    pages: list[Page[ThreadItem]] = []
    after: str | None = None
    while True:
        page = await store.load_thread_items(thread_id, after, limit, order, context)
        pages.append(page)
        ids_seen.extend(item.id for item in page.data)
        if not page.has_more:
            return ids_seen, pages
        assert len(pages) <= 50, "pagination does not terminate"
        after = page.after


def assert_cursor_contract(pages: Sequence[Page[Any]], sizes: list[int]) -> None:
    """Page sizes as expected; ``after`` is the last id exactly when ``has_more``, else None."""
    assert [len(p.data) for p in pages] == sizes
    for page in pages[:-1]:
        assert page.has_more is True
        assert page.after == page.data[-1].id
    assert pages[-1].has_more is False
    assert pages[-1].after is None


# ids


async def test_generated_ids_have_the_hosted_formats(harness: Harness) -> None:
    context = context_for()
    thread = thread_metadata()
    thread_ids = {harness.store.generate_thread_id(context) for _ in range(50)}
    assert len(thread_ids) == 50
    assert all(re.fullmatch(r"cthr_[0-9a-f]{48}", value) for value in thread_ids)
    item_types: tuple[StoreItemType, ...] = get_args(StoreItemType)
    assert "message" in item_types
    item_ids = [
        harness.store.generate_item_id(item_type, thread, context)
        for item_type in item_types
        for _ in range(10)
    ]
    assert len(set(item_ids)) == len(item_ids)
    assert all(re.fullmatch(r"cti_[0-9a-f]{48}", value) for value in item_ids)


# threads


async def test_save_thread_then_load_thread_round_trips(harness: Harness) -> None:
    context = context_for()
    thread = thread_metadata(
        at(12.345678),
        title="Quarterly report",
        metadata={"previous_response_id": "resp_1", "nested": {"n": [1, 2]}},
        allowed_image_domains=["images.example"],
    )
    await harness.store.save_thread(thread, context)

    loaded = await harness.store.load_thread(thread.id, context)
    assert loaded == thread
    record = await harness.threads.get_thread(thread.id)
    assert record is not None
    assert record.user == context.user
    assert record.session_id == context.session.id
    assert record.workflow_id == context.session.workflow.id


async def test_save_thread_upserts_title_status_metadata_never_the_owner(
    harness: Harness,
) -> None:
    store = harness.store
    owner = context_for()
    thread = await new_thread(store, owner, 5, title="first", metadata={"a": 1})

    locked = thread.model_copy(
        update={"title": "renamed", "status": LockedStatus(reason="read only"), "metadata": {}}
    )
    await store.save_thread(locked, owner)
    loaded = await store.load_thread(thread.id, owner)
    assert loaded.title == "renamed"
    assert loaded.status == LockedStatus(reason="read only")
    assert loaded.metadata == {}
    assert loaded.created_at == thread.created_at

    closed = loaded.model_copy(
        update={"status": ClosedStatus(reason="done"), "metadata": {"b": [True]}}
    )
    await store.save_thread(closed, owner)
    assert await store.load_thread(thread.id, owner) == closed
    assert await count_rows(harness.engine, threads, id=thread.id) == 1

    # The same owner from a later session keeps the thread's first session and workflow.
    later = context_for(owner.user)
    await store.save_thread(closed.model_copy(update={"title": "again"}), later)
    record = await harness.threads.get_thread(thread.id)
    assert record is not None
    assert (record.title, record.session_id) == ("again", owner.session.id)

    # Another user can neither take it over nor change it.
    intruder = context_for()
    with pytest.raises(NotFoundError):
        await store.save_thread(thread.model_copy(update={"title": "stolen"}), intruder)
    record = await harness.threads.get_thread(thread.id)
    assert record is not None
    assert (record.user, record.title) == (owner.user, "again")


async def test_load_thread_of_another_user_or_unknown_is_not_found(harness: Harness) -> None:
    owner, other = context_for(), context_for()
    thread = await new_thread(harness.store, owner)
    assert (await harness.store.load_thread(thread.id, owner)).id == thread.id
    with pytest.raises(NotFoundError):
        await harness.store.load_thread(thread.id, other)
    with pytest.raises(NotFoundError):
        await harness.store.load_thread(ids.thread_id(), owner)


async def test_load_threads_pages_both_orders_with_stable_ties(harness: Harness) -> None:
    store = harness.store
    context = context_for()
    # Saved in this order; the three at second 20 and the two at second 40 tie on created_at,
    # and a thread saved later with an earlier time sorts by time, not by insertion.
    stamps = [10, 20, 20, 20, 30, 40, 40, 5]
    saved = [
        await new_thread(store, context, stamp, title=f"t{n}") for n, stamp in enumerate(stamps)
    ]
    # Updating a tied thread rewrites its row (on PostgreSQL, at the end of the heap): the order
    # must come from the tiebreak, not from where rows happen to lie.
    saved[1] = saved[1].model_copy(update={"title": "t1, renamed"})
    await store.save_thread(saved[1], context)
    expected_asc = [saved[n].id for n in (7, 0, 1, 2, 3, 4, 5, 6)]
    # Someone else's threads never show.
    await new_thread(store, context_for(context.user + "-other"), 25)

    for limit, sizes in ((3, [3, 3, 2]), (4, [4, 4]), (8, [8]), (20, [8]), (1, [1] * 8)):
        asc, pages = await all_threads(store, context, "asc", limit)
        assert asc == expected_asc
        assert_cursor_contract(pages, sizes)
        desc, pages = await all_threads(store, context, "desc", limit)
        assert desc == expected_asc[::-1]
        assert_cursor_contract(pages, sizes)

    # ``after`` is exclusive, in the order asked for, whatever the ties.
    page = await store.load_threads(2, saved[1].id, "asc", context)
    assert [t.id for t in page.data] == [saved[2].id, saved[3].id]
    assert (page.has_more, page.after) == (True, saved[3].id)
    page = await store.load_threads(10, saved[2].id, "desc", context)
    assert [t.id for t in page.data] == [saved[1].id, saved[0].id, saved[7].id]
    assert (page.has_more, page.after) == (False, None)
    # The loaded metadata is the saved one.
    page = await store.load_threads(1, None, "desc", context)
    assert page.data == [saved[6]]


async def test_load_threads_with_history_disabled_is_empty(harness: Harness) -> None:
    user = unique_user()
    enabled = context_for(user)
    disabled = context_for(user, ChatKitConfiguration(history_enabled=False))
    for n in range(3):
        await new_thread(harness.store, enabled, n)
    assert len((await harness.store.load_threads(10, None, "desc", enabled)).data) == 3

    for order in ("asc", "desc"):
        page = await harness.store.load_threads(10, None, order, disabled)
        assert (page.data, page.has_more, page.after) == ([], False, None)


async def test_recent_threads_shows_only_the_newest_and_pages_within_them(
    harness: Harness,
) -> None:
    store = harness.store
    user = unique_user()
    context = context_for(user, ChatKitConfiguration(recent_threads=4))
    # t1..t6 oldest first; t3 and t4 tie, so the window's edge falls on a stable order.
    stamps = [1, 2, 3, 3, 5, 6]
    saved = [(await new_thread(store, context_for(user), s)).id for s in stamps]
    newest_four = saved[2:][::-1]

    everything = await store.load_threads(100, None, "desc", context)
    assert [t.id for t in everything.data] == newest_four
    assert (everything.has_more, everything.after) == (False, None)

    desc, pages = await all_threads(store, context, "desc", 3)
    assert desc == newest_four
    assert_cursor_contract(pages, [3, 1])
    asc, pages = await all_threads(store, context, "asc", 3)
    assert asc == newest_four[::-1]
    assert_cursor_contract(pages, [3, 1])
    _, pages = await all_threads(store, context, "desc", 2)
    assert_cursor_contract(pages, [2, 2])

    page = await store.load_threads(10, saved[4], "desc", context)
    assert [t.id for t in page.data] == [saved[3], saved[2]]
    # A thread outside the window is no cursor into it.
    page = await store.load_threads(10, saved[1], "desc", context)
    assert (page.data, page.has_more, page.after) == ([], False, None)


# items


async def test_add_thread_item_is_idempotent_keeping_the_first_content(
    harness: Harness,
) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    first = assistant_message(thread.id, "first version", at(1))
    await store.add_thread_item(thread.id, first, context)
    again = assistant_message(thread.id, "second version", at(9), item_id=first.id)
    await store.add_thread_item(thread.id, again, context)

    assert await count_rows(harness.engine, thread_items, id=first.id) == 1
    page = await store.load_thread_items(thread.id, None, 10, "asc", context)
    assert page.data == [first]
    assert await store.load_item(thread.id, first.id, context) == first


async def test_items_of_a_thread_another_user_owns_are_not_found(harness: Harness) -> None:
    store = harness.store
    owner, other = context_for(), context_for()
    thread = await new_thread(store, owner)
    item = user_message(thread.id, "private", at(1))
    await store.add_thread_item(thread.id, item, owner)

    with pytest.raises(NotFoundError):
        await store.load_thread_items(thread.id, None, 10, "asc", other)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, item.id, other)
    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, user_message(thread.id, "x", at(2)), other)
    with pytest.raises(NotFoundError):
        await store.save_item(thread.id, item.model_copy(update={"quoted_text": "x"}), other)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item(thread.id, item.id, other)
    assert (await store.load_thread_items(thread.id, None, 10, "asc", owner)).data == [item]


async def test_save_item_upserts_in_place(harness: Harness) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    items: list[ThreadItem] = [
        user_message(thread.id, "question", at(1)),
        assistant_message(thread.id, "draft answer", at(2)),
        user_message(thread.id, "follow-up", at(3)),
    ]
    for item in items:
        await store.add_thread_item(thread.id, item, context)

    replaced = assistant_message(thread.id, "final answer", at(2), item_id=items[1].id)
    await store.save_item(thread.id, replaced, context)
    # An unknown id is inserted, in time order.
    inserted = assistant_message(thread.id, "inserted", at(2.5))
    await store.save_item(thread.id, inserted, context)

    page = await store.load_thread_items(thread.id, None, 10, "asc", context)
    assert page.data == [items[0], replaced, inserted, items[2]]
    assert await store.load_item(thread.id, items[1].id, context) == replaced
    assert await count_rows(harness.engine, thread_items, thread_id=thread.id) == 4


async def test_save_item_never_rewrites_an_item_of_another_thread(harness: Harness) -> None:
    """Ownership is checked on ``thread_id``: an item id from elsewhere must not be reachable."""
    store = harness.store
    victim, attacker = context_for(), context_for()
    victim_thread = await new_thread(store, victim)
    secret = user_message(victim_thread.id, "the victim's words", at(1))
    await store.add_thread_item(victim_thread.id, secret, victim)
    attacker_thread = await new_thread(store, attacker)

    forged = user_message(attacker_thread.id, "overwritten", at(1), item_id=secret.id)
    await store.add_thread_item(attacker_thread.id, forged, attacker)
    await store.save_item(attacker_thread.id, forged, attacker)

    assert await store.load_item(victim_thread.id, secret.id, victim) == secret
    record = await harness.threads.get_item(victim_thread.id, secret.id)
    assert record is not None
    assert record.data["content"][0]["text"] == "the victim's words"
    assert (await store.load_thread_items(attacker_thread.id, None, 10, "asc", attacker)).data == []


async def test_load_item_and_delete_thread_item(harness: Harness) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    other_thread = await new_thread(store, context)
    keep = user_message(thread.id, "keep", at(1))
    drop = assistant_message(thread.id, "drop", at(2))
    elsewhere = user_message(other_thread.id, "elsewhere", at(3))
    for target, item in ((thread, keep), (thread, drop), (other_thread, elsewhere)):
        await store.add_thread_item(target.id, item, context)

    assert await store.load_item(thread.id, drop.id, context) == drop
    # An item is found only in its own thread.
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, elsewhere.id, context)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, ids.item_id(), context)
    # Deleting through the wrong thread does nothing.
    await store.delete_thread_item(thread.id, elsewhere.id, context)
    assert await store.load_item(other_thread.id, elsewhere.id, context) == elsewhere

    await store.delete_thread_item(thread.id, drop.id, context)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, drop.id, context)
    assert (await store.load_thread_items(thread.id, None, 10, "asc", context)).data == [keep]
    # Deleting again is harmless.
    await store.delete_thread_item(thread.id, drop.id, context)


async def test_load_thread_items_pages_both_orders_hidden_items_included(
    harness: Harness,
) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    # Added in this order; items 2, 3 and 4 tie on created_at; item 7 is older than all.
    items: list[ThreadItem] = [
        user_message(thread.id, "hello", at(10)),
        hidden_context(thread.id, {"note": "for the model"}, at(11)),
        assistant_message(thread.id, "hi", at(12)),
        sdk_hidden_context(thread.id, "sdk state", at(12)),
        end_of_turn(thread.id, at(12)),
        user_message(thread.id, "more", at(13)),
        assistant_message(thread.id, "sure", at(14)),
        user_message(thread.id, "backdated", at(1)),
    ]
    for item in items:
        await store.add_thread_item(thread.id, item, context)
    # Replacing a tied item moves its row (see the threads test), never its place.
    items[2] = assistant_message(thread.id, "hi there", at(12), item_id=items[2].id)
    await store.save_item(thread.id, items[2], context)
    expected_asc = [items[n].id for n in (7, 0, 1, 2, 3, 4, 5, 6)]

    for limit, sizes in ((3, [3, 3, 2]), (2, [2, 2, 2, 2]), (8, [8]), (50, [8])):
        asc, pages = await all_items(store, thread.id, context, "asc", limit)
        assert asc == expected_asc
        assert_cursor_contract(pages, sizes)
        desc, pages = await all_items(store, thread.id, context, "desc", limit)
        assert desc == expected_asc[::-1]
        assert_cursor_contract(pages, sizes)

    # What the SDK asks for to continue a workflow: the newest two, newest first.
    page = await store.load_thread_items(thread.id, None, 2, "desc", context)
    assert page.data == [items[6], items[5]]
    assert (page.has_more, page.after) == (True, items[5].id)
    page = await store.load_thread_items(thread.id, items[3].id, 10, "desc", context)
    assert page.data == [items[2], items[1], items[0], items[7]]
    page = await store.load_thread_items(thread.id, items[3].id, 10, "asc", context)
    assert page.data == [items[4], items[5], items[6]]
    empty_thread = await new_thread(store, context)
    page = await store.load_thread_items(empty_thread.id, None, 10, "desc", context)
    assert (page.data, page.has_more, page.after) == ([], False, None)


async def test_delete_thread_cascades_and_removes_blobs(harness: Harness) -> None:
    store, engine = harness.store, harness.engine
    context = context_for()
    thread = await new_thread(store, context)
    survivor = await new_thread(store, context)

    async def uploaded(thread_id: str, name: str) -> str:
        """An uploaded file attachment (bytes on disk), bound to ``thread_id`` as the SDK does."""
        attachment = file_attachment(name)
        await harness.blobs.write(attachment.id, chunks(b"%PDF-1.7 " + name.encode()), 10_000)
        await harness.attachments.save(
            AttachmentRecord(
                id=attachment.id,
                user=context.user,
                name=name,
                mime_type=attachment.mime_type,
                data=attachment.model_dump(mode="json"),
                session_id=context.session.id,
                size=9 + len(name),
                storage_key=attachment.id,
                uploaded=True,
            )
        )
        bound = await store.load_attachment(attachment.id, context)
        bound.thread_id = thread_id
        await store.save_attachment(bound, context)
        return attachment.id

    doomed_files = [await uploaded(thread.id, f"doc{n}.pdf") for n in range(2)]
    kept_file = await uploaded(survivor.id, "kept.pdf")
    # An attachment created but never uploaded (no bytes, no storage key) goes as well.
    pending = file_attachment("pending.pdf", thread_id=thread.id)
    await store.save_attachment(pending, context)

    items: list[ThreadItem] = [
        user_message(thread.id, "q", at(1)),
        assistant_message(thread.id, "a", at(2)),
    ]
    for item in items:
        await store.add_thread_item(thread.id, item, context)
    survivor_item = assistant_message(survivor.id, "kept", at(3))
    await store.add_thread_item(survivor.id, survivor_item, context)
    await store.record_feedback(thread.id, [items[1].id], "positive", context)
    await store.record_feedback(survivor.id, [survivor_item.id], "negative", context)
    await TraceRepository(engine).add([span(thread.id, "run"), span(survivor.id, "run")])
    paths = {key: harness.blob_root / key[-2:] / key for key in [*doomed_files, kept_file]}
    assert all(path.is_file() for path in paths.values())

    # Another user cannot delete it, and trying changes nothing.
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, context_for())
    assert await count_rows(engine, thread_items, thread_id=thread.id) == 2

    await store.delete_thread(thread.id, context)

    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, context)
    for table in (thread_items, attachments, item_feedback, trace_spans):
        assert await count_rows(engine, table, thread_id=thread.id) == 0, table.name
    assert await count_rows(engine, threads, id=thread.id) == 0
    for key in doomed_files:
        assert not paths[key].exists()
        with pytest.raises(NotFoundError):
            await store.load_attachment(key, context)
    with pytest.raises(NotFoundError):
        await store.load_attachment(pending.id, context)
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, context)

    # The other thread of the same user is untouched.
    assert paths[kept_file].is_file()
    assert (await store.load_attachment(kept_file, context)).thread_id == survivor.id
    assert (await store.load_thread_items(survivor.id, None, 10, "asc", context)).data == [
        survivor_item
    ]
    assert await harness.threads.feedback(survivor.id) == {survivor_item.id: "negative"}
    assert len(await TraceRepository(engine).for_thread(survivor.id)) == 1


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


# attachments


async def test_save_attachment_upserts_and_binds_to_a_thread(harness: Harness) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    attachment = file_attachment("draft.pdf")
    await store.save_attachment(attachment, context)
    assert await store.load_attachment(attachment.id, context) == attachment

    renamed = attachment.model_copy(update={"name": "final.pdf", "metadata": {"pages": 3}})
    await store.save_attachment(renamed, context)
    assert await store.load_attachment(attachment.id, context) == renamed

    bound = renamed.model_copy(update={"thread_id": thread.id})
    await store.save_attachment(bound, context)
    assert await store.load_attachment(attachment.id, context) == bound
    # Saved again without a thread (as first made), it stays bound.
    await store.save_attachment(renamed, context)
    assert await store.load_attachment(attachment.id, context) == bound
    record = await harness.attachments.get(attachment.id)
    assert record is not None
    assert (record.thread_id, record.name, record.user) == (thread.id, "final.pdf", context.user)
    assert record.session_id == context.session.id
    assert await count_rows(harness.engine, attachments, id=attachment.id) == 1


async def test_save_attachment_keeps_the_upload_state(harness: Harness) -> None:
    """Binding an uploaded file to a thread must not forget where its bytes are."""
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    attachment = file_attachment("upload.pdf")
    await harness.attachments.save(
        AttachmentRecord(
            id=attachment.id,
            user=context.user,
            name=attachment.name,
            mime_type=attachment.mime_type,
            data=attachment.model_dump(mode="json"),
            session_id=context.session.id,
            size=1234,
            storage_key=attachment.id,
            uploaded=True,
        )
    )
    await store.save_attachment(attachment.model_copy(update={"thread_id": thread.id}), context)

    record = await harness.attachments.get(attachment.id)
    assert record is not None
    assert (record.thread_id, record.size, record.storage_key, record.uploaded) == (
        thread.id,
        1234,
        attachment.id,
        True,
    )


async def test_attachments_of_another_user_are_not_found(harness: Harness) -> None:
    store = harness.store
    owner, other = context_for(), context_for()
    attachment = file_attachment("secret.pdf")
    await store.save_attachment(attachment, owner)

    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, other)
    with pytest.raises(NotFoundError):
        await store.save_attachment(attachment.model_copy(update={"name": "mine.pdf"}), other)
    with pytest.raises(NotFoundError):
        await store.delete_attachment(attachment.id, other)
    with pytest.raises(NotFoundError):
        await store.load_attachment(ids.attachment_id(), owner)
    assert await store.load_attachment(attachment.id, owner) == attachment
    record = await harness.attachments.get(attachment.id)
    assert record is not None
    assert record.user == owner.user

    await store.delete_attachment(attachment.id, owner)
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, owner)


async def test_image_attachments_get_a_fresh_preview_url_on_every_load(
    harness: Harness,
) -> None:
    store, links = harness.store, harness.links
    context = context_for()
    thread = await new_thread(store, context)
    image = image_attachment(thread_id=thread.id)
    # As stored: kithost's own link, long expired, on whatever address served it then.
    stale = f"https://old.example/v1/chatkit/files/{image.id}/content?expires=1&signature=x"
    image = image.model_copy(update={"preview_url": AnyUrl(stale)})
    foreign = image_attachment(thread_id=thread.id)  # a link elsewhere: kept as it is
    document = file_attachment(thread_id=thread.id)
    for attachment in (image, foreign, document):
        await store.save_attachment(attachment, context)
    message = user_message(thread.id, "look", at(1), attachments=[image, foreign, document])
    await store.add_thread_item(thread.id, message, context)

    seen: list[str] = []
    calls_before = len(links.calls)
    for _ in range(2):
        loaded = await store.load_attachment(image.id, context)
        assert isinstance(loaded, ImageAttachment)
        seen.append(str(loaded.preview_url))
        assert loaded.model_copy(update={"preview_url": image.preview_url}) == image
    page = await store.load_thread_items(thread.id, None, 10, "asc", context)
    loaded_item = await store.load_item(thread.id, message.id, context)
    for item in (page.data[0], loaded_item):
        assert isinstance(item, UserMessageItem)
        fresh, elsewhere, plain = item.attachments
        assert isinstance(fresh, ImageAttachment)
        seen.append(str(fresh.preview_url))
        assert elsewhere == foreign
        assert plain == document

    assert str(image.preview_url) not in seen
    assert all(url.startswith(f"{PUBLIC_URL}/v1/chatkit/files/{image.id}/content?") for url in seen)
    assert all("expires=1&" not in url for url in seen)
    own = [call for call in links.calls[calls_before:] if call[0] == stale]
    assert own == [(stale, PUBLIC_URL)] * 4
    # File attachments carry no preview and ask for none.
    asked = len(links.calls)
    assert isinstance(await store.load_attachment(document.id, context), FileAttachment)
    assert len(links.calls) == asked


# feedback


async def test_record_feedback_keeps_the_latest_verdict_and_ignores_foreign_items(
    harness: Harness,
) -> None:
    store = harness.store
    context = context_for()
    thread = await new_thread(store, context)
    other_thread = await new_thread(store, context)
    first = assistant_message(thread.id, "one", at(1))
    second = assistant_message(thread.id, "two", at(2))
    elsewhere = assistant_message(other_thread.id, "three", at(3))
    for target, item in ((thread, first), (thread, second), (other_thread, elsewhere)):
        await store.add_thread_item(target.id, item, context)

    await store.record_feedback(
        thread.id, [first.id, elsewhere.id, ids.item_id()], "positive", context
    )
    assert await harness.threads.feedback(thread.id) == {first.id: "positive"}
    await store.record_feedback(thread.id, [first.id, second.id], "negative", context)
    assert await harness.threads.feedback(thread.id) == {
        first.id: "negative",
        second.id: "negative",
    }
    await store.record_feedback(thread.id, [second.id], "positive", context)
    assert await harness.threads.feedback(thread.id) == {
        first.id: "negative",
        second.id: "positive",
    }
    assert await harness.threads.feedback(other_thread.id) == {}
    assert await count_rows(harness.engine, item_feedback, item_id=elsewhere.id) == 0

    with pytest.raises(NotFoundError):
        await store.record_feedback(thread.id, [first.id], "positive", context_for())
    assert (await harness.threads.feedback(thread.id))[first.id] == "negative"
