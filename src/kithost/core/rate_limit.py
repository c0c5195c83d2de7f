"""Per-session request limits (``max_requests_per_1_minute``), kept by the ``limits`` library.

In memory for one process; in Redis when ``KITHOST_REDIS_URL`` is set, so the limit holds across
every kithost process behind a load balancer.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from kithost.core.errors import RateLimited
from kithost.observability import metrics


def storage_uri(redis_url: str | None) -> str:
    """The ``limits`` storage for a Redis URL (``redis://…`` or ``rediss://…``), or memory."""
    if not redis_url:
        return "async+memory://"
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class SessionRateLimiter:
    def __init__(self, uri: str = "async+memory://"):
        options = {"key_prefix": "kithost"} if "redis" in uri else {}
        storage = storage_from_string(uri, **options)
        assert isinstance(storage, Storage), "an async storage (async+…) is required"
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def hit(self, session_id: str, per_minute: int, *, scope: str = "session") -> None:
        """Count one request; raise ``RateLimited`` with a ``retry_after`` past the limit.

        ``scope`` keeps counters of different kinds apart (a session, an admin key) and
        names the kind in the message.
        """
        item = RateLimitItemPerMinute(per_minute)
        if await self._limiter.hit(item, scope, session_id):
            return
        stats = await self._limiter.get_window_stats(item, scope, session_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        metrics.rate_limited(scope)
        raise RateLimited(
            f"Rate limit reached for this {scope}: {per_minute} requests per minute. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
            code="rate_limit_exceeded",
        )

    async def forget(self, session_id: str, per_minute: int, *, scope: str = "session") -> None:
        """Drop a session's counter (a purged session's key, rather than waiting for it to
        lapse)."""
        await self._storage.clear(RateLimitItemPerMinute(per_minute).key_for(scope, session_id))

    async def check(self) -> bool:
        return bool(await self._storage.check())
