"""Cursor pagination as the SDKs rely on it (hosted-api.md §5): threads, thread items and the
sessions-list extension, auto-paged by the official Python SDK, plus the edges other SDKs hit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai.pagination import SyncConversationCursorPage
from openai.types.beta.chatkit import ChatSession

from kithost.core.threads import ItemRecord, ThreadRecord
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.seeding import make_thread, protocol_item, seed, user_message

BETA = {"OpenAI-Beta": "chatkit_beta=v1"}
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", **BETA}
EMPTY_PAGE = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


def ids_of(page: SyncConversationCursorPage[Any]) -> list[str]:
    """Every id from ``page`` on, following cursors the way the SDK does."""
    return [element.id for element in page]


def page_sizes(page: SyncConversationCursorPage[Any]) -> list[int]:
    return [len(p.data) for p in page.iter_pages()]


def raw_get(server: KithostProcess, path: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=f"{server.url}/v1/chatkit", headers=HEADERS) as client:
        return client.get(path, params=params)


@pytest.fixture
def threads45(server: KithostProcess) -> tuple[str, list[str]]:
    """45 threads of one user, oldest first; runs of equal ``created_at`` included."""
    user = unique_user()
    start = time.time() - 10_000
    # Every fifth thread shares its timestamp with the one before it.
    stamps = [start + n - (n // 5) for n in range(45)]
    threads = [make_thread(user, created_at=stamp) for stamp in stamps]
    seed(server.database_url, [(thread, []) for thread in threads])
    return user, [thread.id for thread in threads]


@pytest.fixture
def items30(server: KithostProcess) -> tuple[str, list[str]]:
    """A thread with 30 visible items, oldest first, hidden items between them."""
    thread = make_thread(unique_user(), created_at=time.time() - 10_000)
    records: list[ItemRecord] = []
    visible: list[str] = []
    for n in range(30):
        message = user_message(thread.id, f"message {n}", thread.created_at + n)
        records.append(message)
        visible.append(message.id)
        if n % 4 == 0:
            records.append(protocol_item(thread.id, "end_of_turn", thread.created_at + n))
    records.append(protocol_item(thread.id, "hidden_context_item", thread.created_at + 99))
    seed(server.database_url, [(thread, records)])
    return thread.id, visible


# threads


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_threads_auto_paginate(
    admin: openai.OpenAI, threads45: tuple[str, list[str]], order: str
) -> None:
    user, oldest_first = threads45
    expected = oldest_first if order == "asc" else oldest_first[::-1]

    page = admin.beta.chatkit.threads.list(user=user, limit=7, order=order)

    assert ids_of(page) == expected
    assert page_sizes(page) == [7, 7, 7, 7, 7, 7, 3]
    pages = list(page.iter_pages())
    assert [p.has_more for p in pages] == [True] * 6 + [False]
    for p in pages:
        assert p.model_extra is not None
        assert p.model_extra["first_id"] == p.data[0].id
        assert p.last_id == p.data[-1].id


def test_threads_default_to_twenty_newest_first(
    admin: openai.OpenAI, threads45: tuple[str, list[str]]
) -> None:
    user, oldest_first = threads45
    page = admin.beta.chatkit.threads.list(user=user)
    assert [t.id for t in page.data] == oldest_first[::-1][:20]
    assert page.has_more is True


@pytest.mark.parametrize(
    ("order", "after", "before", "select"),
    [
        ("asc", 10, None, lambda ids: ids[11:]),
        ("asc", None, 30, lambda ids: ids[:30]),
        ("asc", 10, 30, lambda ids: ids[11:30]),
        ("desc", 30, None, lambda ids: ids[:30][::-1]),
        ("desc", None, 10, lambda ids: ids[11:][::-1]),
        ("desc", 30, 10, lambda ids: ids[11:30][::-1]),
        ("asc", 44, None, lambda ids: []),
        ("desc", None, 44, lambda ids: []),
    ],
)
def test_threads_before_and_after_are_positional(
    admin: openai.OpenAI,
    threads45: tuple[str, list[str]],
    order: str,
    after: int | None,
    before: int | None,
    select: Callable[[list[str]], list[str]],
) -> None:
    user, oldest_first = threads45
    cursors: dict[str, str] = {}
    if after is not None:
        cursors["after"] = oldest_first[after]
    if before is not None:
        cursors["before"] = oldest_first[before]

    page = admin.beta.chatkit.threads.list(user=user, limit=7, order=order, **cursors)

    assert ids_of(page) == select(oldest_first)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_after_the_last_thread_is_an_empty_page(
    server: KithostProcess, threads45: tuple[str, list[str]], order: str
) -> None:
    user, oldest_first = threads45
    last = oldest_first[-1] if order == "asc" else oldest_first[0]
    response = raw_get(server, "/threads", user=user, order=order, limit=7, after=last)
    assert response.status_code == 200
    assert response.json() == EMPTY_PAGE


def test_limit_bounds(server: KithostProcess, threads45: tuple[str, list[str]]) -> None:
    user, oldest_first = threads45

    empty = raw_get(server, "/threads", user=user, limit=0).json()
    assert (empty["data"], empty["first_id"], empty["last_id"]) == ([], None, None)
    assert empty["has_more"] is True

    everything = raw_get(server, "/threads", user=user, limit=100).json()
    assert [t["id"] for t in everything["data"]] == oldest_first[::-1]
    assert everything["has_more"] is False

    for limit, code in ((101, "integer_above_max_value"), (-1, "integer_below_min_value")):
        response = raw_get(server, "/threads", user=user, limit=limit)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "limit"
        assert response.json()["error"]["code"] == code


def test_invalid_order_is_refused(admin: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.list(order="newest")
    assert (caught.value.param, caught.value.code) == ("order", "invalid_value")


@pytest.mark.parametrize("cursor", ["after", "before"])
def test_unknown_cursor_is_refused(
    admin: openai.OpenAI, threads45: tuple[str, list[str]], cursor: str
) -> None:
    user, _ = threads45
    unknown = "cthr_" + "0" * 48
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.list(user=user, **{cursor: unknown})
    assert (caught.value.param, caught.value.code) == (cursor, "invalid_value")


def test_a_cursor_outside_the_filtered_list_is_refused(
    server: KithostProcess, admin: openai.OpenAI, threads45: tuple[str, list[str]]
) -> None:
    _, oldest_first = threads45
    stranger = unique_user()
    seed(server.database_url, [(make_thread(stranger), [])])
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.list(user=stranger, after=oldest_first[0])
    assert caught.value.param == "after"


def test_equal_timestamps_keep_a_stable_order(server: KithostProcess, admin: openai.OpenAI) -> None:
    user = unique_user()
    stamp = time.time() - 500
    threads: list[ThreadRecord] = [make_thread(user, created_at=stamp) for _ in range(6)]
    items = [user_message(threads[0].id, f"same time {n}", stamp) for n in range(6)]
    seed(server.database_url, [(threads[0], items), *((t, []) for t in threads[1:])])
    inserted = [t.id for t in threads]
    item_ids = [i.id for i in items]

    for _ in range(2):
        assert ids_of(admin.beta.chatkit.threads.list(user=user, limit=1, order="asc")) == (
            inserted
        )
        assert ids_of(admin.beta.chatkit.threads.list(user=user, limit=1)) == inserted[::-1]
        asc = admin.beta.chatkit.threads.list_items(threads[0].id, limit=1, order="asc")
        assert ids_of(asc) == item_ids
        desc = admin.beta.chatkit.threads.list_items(threads[0].id, limit=1, order="desc")
        assert ids_of(desc) == item_ids[::-1]


# items


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_auto_paginate_past_hidden_items(
    admin: openai.OpenAI, items30: tuple[str, list[str]], order: str
) -> None:
    thread_id, oldest_first = items30
    expected = oldest_first if order == "asc" else oldest_first[::-1]

    page = admin.beta.chatkit.threads.list_items(thread_id, limit=4, order=order)

    assert ids_of(page) == expected
    assert page_sizes(page) == [4] * 7 + [2]
    assert [p.has_more for p in page.iter_pages()] == [True] * 7 + [False]


@pytest.mark.parametrize(
    ("order", "after", "before", "select"),
    [
        ("asc", 5, None, lambda ids: ids[6:]),
        ("asc", 5, 20, lambda ids: ids[6:20]),
        ("desc", None, 5, lambda ids: ids[6:][::-1]),
        ("desc", 20, 5, lambda ids: ids[6:20][::-1]),
    ],
)
def test_items_before_and_after(
    admin: openai.OpenAI,
    items30: tuple[str, list[str]],
    order: str,
    after: int | None,
    before: int | None,
    select: Callable[[list[str]], list[str]],
) -> None:
    thread_id, oldest_first = items30
    cursors: dict[str, str] = {}
    if after is not None:
        cursors["after"] = oldest_first[after]
    if before is not None:
        cursors["before"] = oldest_first[before]
    page = admin.beta.chatkit.threads.list_items(thread_id, limit=4, order=order, **cursors)
    assert ids_of(page) == select(oldest_first)


def test_items_edges(server: KithostProcess, items30: tuple[str, list[str]]) -> None:
    thread_id, oldest_first = items30
    path = f"/threads/{thread_id}/items"

    trailing = raw_get(server, path, order="asc", after=oldest_first[-1])
    assert (trailing.status_code, trailing.json()) == (200, EMPTY_PAGE)
    assert raw_get(server, path, order="desc", after=oldest_first[0]).json() == EMPTY_PAGE

    assert raw_get(server, path, limit=0).json()["data"] == []
    assert len(raw_get(server, path, limit=100).json()["data"]) == 30
    assert raw_get(server, path, limit=101).status_code == 400
    assert raw_get(server, path, limit=-1).status_code == 400

    unknown = raw_get(server, path, after="cti_" + "0" * 48)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "after"


def test_an_item_of_another_thread_is_not_a_cursor(
    server: KithostProcess, admin: openai.OpenAI, items30: tuple[str, list[str]]
) -> None:
    _, oldest_first = items30
    other = make_thread(unique_user())
    seed(server.database_url, [(other, [user_message(other.id, "hi", other.created_at)])])
    with pytest.raises(openai.BadRequestError) as caught:
        admin.beta.chatkit.threads.list_items(other.id, before=oldest_first[3])
    assert caught.value.param == "before"


# sessions (kithost extension, same contract)


@pytest.fixture
def sessions12(admin: openai.OpenAI) -> tuple[str, list[str]]:
    user = unique_user()
    created = [
        admin.beta.chatkit.sessions.create(user=user, workflow={"id": "wf_kithost_demo"}).id
        for _ in range(12)
    ]
    return user, created


def list_sessions(client: openai.OpenAI, **params: Any) -> SyncConversationCursorPage[ChatSession]:
    """The sessions list, paged by the SDK's own page class."""
    return client.get_api_list(
        "/chatkit/sessions",
        model=ChatSession,
        page=SyncConversationCursorPage[ChatSession],
        options={"headers": BETA, "params": params},
    )


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sessions_auto_paginate(
    admin: openai.OpenAI, sessions12: tuple[str, list[str]], order: str
) -> None:
    user, oldest_first = sessions12
    page = list_sessions(admin, user=user, limit=5, order=order)
    assert ids_of(page) == (oldest_first if order == "asc" else oldest_first[::-1])
    assert page_sizes(page) == [5, 5, 2]


def test_sessions_before_after_and_edges(
    server: KithostProcess, admin: openai.OpenAI, sessions12: tuple[str, list[str]]
) -> None:
    user, oldest_first = sessions12

    assert (
        ids_of(list_sessions(admin, user=user, limit=5, after=oldest_first[8]))
        == (oldest_first[:8][::-1])
    )
    assert (
        ids_of(list_sessions(admin, user=user, limit=5, order="asc", before=oldest_first[8]))
        == (oldest_first[:8])
    )
    assert ids_of(list_sessions(admin, user=user, limit=5)) == oldest_first[::-1]

    trailing = raw_get(server, "/sessions", user=user, order="asc", after=oldest_first[-1])
    assert (trailing.status_code, trailing.json()) == (200, EMPTY_PAGE)
    assert raw_get(server, "/sessions", user=user, limit=0).json()["data"] == []
    assert len(raw_get(server, "/sessions", user=user, limit=100).json()["data"]) == 12
    assert raw_get(server, "/sessions", limit=101).status_code == 400
    unknown = raw_get(server, "/sessions", user=user, before="cksess_" + "0" * 48)
    assert (unknown.status_code, unknown.json()["error"]["param"]) == (400, "before")
