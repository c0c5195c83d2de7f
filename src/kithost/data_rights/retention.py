"""Thread retention and the purge of old sessions: a sweep with a clock given by the caller,
and the periodic task every serving process runs (one sweeps at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kithost.store.retention import DAY, RetentionRepository, expired_threads
from kithost.store.thread_removal import Removed

# Rate-limit refusal counts (the Overview's) are kept one day longer than its longest range.
REFUSALS_KEPT_DAYS = 31

log = logging.getLogger("kithost.retention")


class BlobDeleter(Protocol):
    async def delete(self, key: str) -> None: ...


class Journal(Protocol):
    async def forget(self, run_ids: Sequence[str]) -> None: ...


class RateLimitKeys(Protocol):
    async def forget(self, session_id: str, per_minute: int, *, scope: str = "session") -> None: ...


@dataclass(frozen=True)
class RetentionPolicy:
    """Days a thread is kept after its last activity; 0 keeps it forever."""

    default_days: int = 0
    per_workflow: Mapping[str, int] = field(default_factory=dict)
    session_purge_days: int = 30


@dataclass
class SweepReport:
    """What one sweep removed; ``swept`` is False when another process held the lock."""

    swept: bool
    now: float
    removed: Removed = field(default_factory=Removed)

    def to_json(self) -> dict[str, object]:
        return {"swept": self.swept, "now": self.now, "deleted": self.removed.counts()}


async def remove_leftovers(removed: Removed, blobs: BlobDeleter, journal: Journal) -> None:
    """After the rows' transaction: the attachments' bytes, and the runs' journals (Redis)."""
    for key in removed.storage_keys:
        await blobs.delete(key)
    await journal.forget(removed.run_ids)


class RetentionSweeper:
    def __init__(
        self,
        repo: RetentionRepository,
        blobs: BlobDeleter,
        journal: Journal,
        rate_limits: RateLimitKeys,
        policy: Callable[[], RetentionPolicy],
    ):
        self._repo = repo
        self._blobs = blobs
        self._journal = journal
        self._rate_limits = rate_limits
        self._policy = policy  # read at each sweep: a workflows reload may change overrides
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, now: float) -> SweepReport:
        """Delete the threads past their retention at ``now`` and the sessions past the grace
        period, in batches; skip when another process is sweeping."""
        policy = self._policy()
        async with self._repo.sweep_lock() as mine:
            if not mine:
                return SweepReport(swept=False, now=now)
            report = SweepReport(swept=True, now=now)
            expired = expired_threads(now, policy.default_days, policy.per_workflow)
            while True:
                batch = await self._repo.remove_expired_threads(expired)
                if not batch.threads:
                    break
                await remove_leftovers(batch, self._blobs, self._journal)
                report.removed.add(batch)
            if policy.session_purge_days > 0:
                before = now - policy.session_purge_days * DAY
                while True:
                    purged, count = await self._repo.purge_sessions(before)
                    if not purged:
                        break
                    report.removed.sessions += count
                    for session in purged:
                        await self._rate_limits.forget(
                            session.id, session.max_requests_per_1_minute
                        )
            await self._repo.drop_refusals_before(now - REFUSALS_KEPT_DAYS * DAY)
            return report

    def start(self, interval_seconds: float) -> None:
        """Sweep every ``interval_seconds`` (the first a minute after start, at most)."""
        if interval_seconds > 0:
            self._task = asyncio.create_task(self._every(interval_seconds))

    async def _every(self, interval_seconds: float) -> None:
        await asyncio.sleep(min(interval_seconds, 60.0))
        while True:
            try:
                report = await self.sweep(time.time())
                counts = report.removed.counts()
                if report.swept and (counts["threads"] or counts["sessions"]):
                    log.info("retention: deleted %s", counts)
            except Exception:  # the next round tries again; the error is logged, not raised
                log.exception("retention sweep failed")
            await asyncio.sleep(interval_seconds)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
