"""Wake-ups between processes: a run's journal grew (or it ended), or someone asked to cancel it.

A signal carries no data, only "look again": readers always re-read the journal and the run's
row, and poll slowly as a fallback, so a lost signal costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator

log = logging.getLogger("kithost.runs")

EVENTS = "events"
CANCEL = "cancel"
CHANNEL = "kithost_runs"
# PostgreSQL's NOTIFY payload limit is 8000 bytes; run ids are 52 characters.
IDS_PER_MESSAGE = 100


class Signals:
    """This process only (SQLite): the base the shared variants extend."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.on_cancel: Callable[[str], None] = lambda run_id: None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @contextlib.contextmanager
    def watch(self, run_id: str) -> Iterator[asyncio.Event]:
        """An event set when the run's journal may have grown; arm it before reading."""
        event = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(run_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[run_id]

    async def events_appended(self, run_ids: Iterable[str]) -> None:
        ids = list(run_ids)
        self.received(EVENTS, ids)
        await self._publish(EVENTS, ids)

    async def cancel_requested(self, run_id: str) -> None:
        self.received(CANCEL, [run_id])
        await self._publish(CANCEL, [run_id])

    def received(self, kind: str, run_ids: Iterable[str]) -> None:
        for run_id in run_ids:
            if kind == CANCEL:
                self.on_cancel(run_id)
            for event in self._waiters.get(run_id, ()):
                event.set()

    def received_message(self, payload: str) -> None:
        kind, _, ids = payload.partition(":")
        if kind in (EVENTS, CANCEL) and ids:
            self.received(kind, ids.split(","))

    async def _publish(self, kind: str, run_ids: list[str]) -> None:
        return None


def messages(kind: str, run_ids: list[str]) -> Iterator[str]:
    for start in range(0, len(run_ids), IDS_PER_MESSAGE):
        yield f"{kind}:{','.join(run_ids[start : start + IDS_PER_MESSAGE])}"


class PostgresSignals(Signals):
    """``LISTEN``/``NOTIFY`` on one dedicated connection, reconnected when it drops."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._conn: object | None = None
        self._task: asyncio.Task[None] | None = None
        self._publisher_lock = asyncio.Lock()

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._keep_connected(), name="kithost-runs-listen")

    async def _connect(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._dsn)
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.received_message(payload)

    async def _keep_connected(self) -> None:
        while True:
            await asyncio.sleep(2)
            conn = self._conn
            if conn is not None and not conn.is_closed():  # type: ignore[attr-defined]
                continue
            try:
                await self._connect()
                # Anything missed while disconnected: readers poll, so a wake-up for all helps.
                self.received(EVENTS, list(self._waiters))
            except Exception as error:
                log.warning("runs: LISTEN connection lost, retrying: %s", error)

    async def _publish(self, kind: str, run_ids: list[str]) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():  # type: ignore[attr-defined]
            return
        async with self._publisher_lock:  # one asyncpg connection runs one query at a time
            for message in messages(kind, run_ids):
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, message)  # type: ignore[attr-defined]
                except Exception as error:
                    log.warning("runs: NOTIFY failed: %s", error)
                    return

    async def close(self) -> None:
        await _cancel(self._task)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()  # type: ignore[attr-defined]


class RedisSignals(Signals):
    """Redis pub/sub on one channel."""

    def __init__(self, url: str) -> None:
        super().__init__()
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        self._task = asyncio.create_task(self._listen(pubsub), name="kithost-runs-subscribe")

    async def _listen(self, pubsub: object) -> None:
        while True:
            try:
                async for message in pubsub.listen():  # type: ignore[attr-defined]
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self.received_message(data.decode())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("runs: Redis subscription lost, retrying: %s", error)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(CHANNEL)  # type: ignore[attr-defined]

    async def _publish(self, kind: str, run_ids: list[str]) -> None:
        for message in messages(kind, run_ids):
            try:
                await self._redis.publish(CHANNEL, message)
            except Exception as error:
                log.warning("runs: PUBLISH failed: %s", error)
                return

    async def close(self) -> None:
        await _cancel(self._task)
        await self._redis.aclose()


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
