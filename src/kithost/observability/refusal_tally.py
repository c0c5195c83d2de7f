"""Rate-limit refusals for the Overview, counted in memory and written every few seconds.

A client that keeps calling past its limit costs a dictionary increment per refused request,
not a database write: the 429 path stays as cheap as the limit check in front of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Protocol

log = logging.getLogger("kithost.usage")

# (minute since the epoch, limit name, workflow id): refusals in that minute.
RefusalKey = tuple[int, str, str]


class RefusalStore(Protocol):
    async def add_refusals(self, counts: dict[RefusalKey, int]) -> None: ...


class RefusalTally:
    def __init__(self, store: RefusalStore, interval_seconds: float = 5.0):
        self._store = store
        self._interval = interval_seconds
        self._pending: Counter[RefusalKey] = Counter()
        self._task: asyncio.Task[None] | None = None

    def note(self, limit_name: str, workflow_id: str, now: float) -> None:
        self._pending[(int(now // 60), limit_name, workflow_id[:200])] += 1

    async def flush(self) -> None:
        """Write what was counted since the last flush (the Overview calls this before it
        reads, so this process's refusals are never shown late). Kept for the next flush when
        the database cannot take it."""
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            await self._store.add_refusals(dict(pending))
        except Exception as error:
            self._pending.update(pending)
            log.warning("could not record %d rate-limit refusals: %s", pending.total(), error)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flush_every_interval())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
