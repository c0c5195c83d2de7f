"""B4's data: threads and items written straight into kithost's PostgreSQL tables.

``INSERT … SELECT generate_series`` after ``kithost migrate``: a million items in well under a
minute, through kithost's own schema (its indexes and foreign keys included). The rows are what
kithost itself stores — ChatKit protocol JSON for user and assistant messages — so every read
path (the REST rendering, the ChatKit store's validation) runs on them as on real data.

Layout for ``total`` items: ``BIG_THREADS`` threads of the queried user hold 90 % of the items;
the rest are spread, a few per thread, over many threads, half of them the queried user's and
half spread over a thousand other users.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import asyncpg

USER = "bench_user"
BIG_THREADS = 3
BIG_SHARE = 0.9
SPAN_SECONDS = 30 * 24 * 3600  # the data spans the last thirty days
ANSWER = "The answer, at the length a short reply has. " * 6

USER_MESSAGE = {
    "type": "user_message",
    "content": [{"type": "input_text", "text": ""}],
    "attachments": [],
    "quoted_text": None,
    "inference_options": {"tool_choice": None, "model": None},
}
ASSISTANT_MESSAGE = {
    "type": "assistant_message",
    "content": [{"annotations": [], "text": "", "type": "output_text"}],
}

# One id in the hosted format: prefix, 8 hex digits of the time, 40 hex digits.
_ID = (
    "{prefix} || lpad(to_hex({ts}::bigint), 8, '0') || md5({key})"
    " || substr(md5({key} || 'x'), 1, 8)"
)


@dataclass
class Dataset:
    total_items: int
    big_thread_ids: list[str]
    middle_item_id: str  # an item half-way down the first big thread (a cursor)
    threads: int
    seconds: float


def _id(prefix: str, ts: str, key: str) -> str:
    return _ID.format(prefix=f"'{prefix}'", ts=ts, key=key)


async def seed(dsn: str, total_items: int) -> Dataset:
    started = time.perf_counter()
    big_each = int(total_items * BIG_SHARE) // BIG_THREADS
    small_threads = max(50, total_items // 100)
    small_each = max(1, (total_items - big_each * BIG_THREADS) // small_threads)
    base = time.time() - SPAN_SECONDS
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        # Threads: the big ones first (the oldest), then the small ones.
        thread_count = BIG_THREADS + small_threads
        await conn.execute(
            f"""
            INSERT INTO threads (id, user_id, session_id, workflow_id, title, status, metadata,
                                 created_at, updated_at)
            SELECT {_id("cthr_", "ts", "'thread' || g")}, owner, NULL, 'wf_bench',
                   'Thread ' || g, 'active', '{{}}'::jsonb, ts, ts
            FROM (
                SELECT g,
                       $1::float8 + g * $2::float8 AS ts,
                       CASE WHEN g < {BIG_THREADS} OR g % 2 = 0 THEN '{USER}'
                            ELSE 'user_' || (g % 1000) END AS owner
                FROM generate_series(0, $3 - 1) AS g
            ) AS t
            """,
            base,
            SPAN_SECONDS / 2 / thread_count,
            thread_count,
        )
        threads = await conn.fetch("SELECT id, created_at FROM threads ORDER BY seq")
        big = threads[:BIG_THREADS]
        for index, row in enumerate(big):
            await _items(conn, row["id"], row["created_at"], big_each, f"b{index}-")
        await _small_items(conn, small_each)
        middle = await conn.fetchval(
            "SELECT id FROM thread_items WHERE thread_id = $1 ORDER BY created_at, seq "
            "OFFSET $2 LIMIT 1",
            big[0]["id"],
            big_each // 2,
        )
        await conn.execute("VACUUM ANALYZE threads")
        await conn.execute("VACUUM ANALYZE thread_items")
        count = await conn.fetchval("SELECT count(*) FROM thread_items")
    finally:
        await conn.close()
    return Dataset(
        total_items=int(count),
        big_thread_ids=[row["id"] for row in big],
        middle_item_id=str(middle),
        threads=len(threads),
        seconds=time.perf_counter() - started,
    )


def _item_select(thread: str, ts: str, key: str) -> str:
    """A SELECT list making one item row; ``g`` is the item's number in its thread."""
    user = json.dumps(USER_MESSAGE)
    assistant = json.dumps(ASSISTANT_MESSAGE)
    item_id = _id("cti_", ts, key)
    return f"""
        {item_id} AS id, {thread} AS thread_id,
        CASE WHEN g % 2 = 0 THEN 'user_message' ELSE 'assistant_message' END AS type,
        jsonb_set(
            CASE WHEN g % 2 = 0 THEN '{user}'::jsonb ELSE '{assistant}'::jsonb END,
            '{{content,0,text}}',
            to_jsonb(CASE WHEN g % 2 = 0 THEN 'Question ' || g || '?'
                          ELSE '{ANSWER}' || g END)
        ) || jsonb_build_object(
            'id', {item_id},
            'thread_id', {thread},
            'created_at', to_char(to_timestamp({ts}) AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US')
        ) AS data,
        {ts} AS created_at
    """


async def _items(
    conn: asyncpg.Connection, thread_id: str, start: float, count: int, key: str
) -> None:
    """``count`` items in one thread, from its creation to now, in order."""
    step = (time.time() - start) / (count + 1)
    select = _item_select("$1::text", "($2::float8 + (g + 1) * $3::float8)", f"'{key}' || g")
    await conn.execute(
        f"""
        INSERT INTO thread_items (id, thread_id, type, data, created_at)
        SELECT id, thread_id, type, data, created_at
        FROM (SELECT {select} FROM generate_series(0, $4 - 1) AS g) AS items
        """,
        thread_id,
        start,
        step,
        count,
    )


async def _small_items(conn: asyncpg.Connection, each: int) -> None:
    """``each`` items in every thread but the big ones, a minute apart after its creation."""
    select = _item_select("t.id", "(t.created_at + (g + 1) * 60.0)", "t.id || '-' || g")
    await conn.execute(
        f"""
        INSERT INTO thread_items (id, thread_id, type, data, created_at)
        SELECT {select}
        FROM (SELECT id, created_at FROM threads ORDER BY seq OFFSET {BIG_THREADS}) AS t,
             generate_series(0, $1 - 1) AS g
        """,
        each,
    )
