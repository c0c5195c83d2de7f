"""The runs' journal on Redis Streams, for deployments that set ``KITHOST_REDIS_URL``.

One stream per run; an event's stream id is ``0-<seq>``, so "after seq n" is a plain range read.
Each ``append`` is one ``MULTI`` transaction: a reader sees all of a batch or none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

DEFAULT_PREFIX = "kithost"
# Streams also expire on their own this long after the retention, counted from their last write:
# the sweep (RunManager) deletes them on time, and this catches what no process is left to sweep.
EXPIRY_MARGIN_SECONDS = 3600
FIELD = b"e"
# Redis's answer to an XADD whose id is not above the stream's last one: that seq is already
# stored (a batch written again after an unanswered EXEC), so writing it again is a no-op.
ALREADY_STORED = "equal or smaller than the target stream top item"


class RedisJournal:
    def __init__(
        self,
        url: str,
        retention_seconds: float,
        *,
        prefix: str = DEFAULT_PREFIX,
        expiry_margin_seconds: float = EXPIRY_MARGIN_SECONDS,
    ) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix
        self._expire_seconds = max(1, int(retention_seconds + expiry_margin_seconds))

    def key(self, run_id: str) -> str:
        return f"{self._prefix}:run:{run_id}:events"

    async def append(self, events: Sequence[tuple[str, int, bytes]]) -> None:
        if not events:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            keys: dict[str, None] = {}
            for run_id, seq, data in events:
                key = self.key(run_id)
                keys[key] = None
                pipe.xadd(key, {FIELD: data}, id=f"0-{seq}")
            for key in keys:
                pipe.expire(key, self._expire_seconds)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, ResponseError) and ALREADY_STORED not in str(result):
                raise result

    async def read(self, run_id: str, after: int, limit: int = 1000) -> list[tuple[int, bytes]]:
        found = await self._redis.xrange(self.key(run_id), min=f"0-{after + 1}", count=limit)
        # Without decode_responses, ids and values come back as bytes.
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], found)
        return [(_seq(entry_id), fields[FIELD]) for entry_id, fields in entries]

    async def forget(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self._redis.delete(*(self.key(run_id) for run_id in run_ids))

    async def close(self) -> None:
        await self._redis.aclose()


def _seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[1])
