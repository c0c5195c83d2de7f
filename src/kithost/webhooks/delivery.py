"""The dispatcher: every process claims due deliveries from the outbox and POSTs them.

Runs never wait for it: they only write outbox rows. Attempts are capped in number at a time,
overall and per endpoint, so that a dead or slow endpoint never holds up the others' deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence

import httpx

from kithost import __version__
from kithost.observability import metrics
from kithost.runs.owners import this_process
from kithost.store.webhooks import WebhookRepository
from kithost.webhooks.model import AttemptOutcome, ClaimedDelivery
from kithost.webhooks.signing import WebhookSigner

log = logging.getLogger("kithost.webhooks")

POLL_SECONDS = 1.0
MAX_IN_FLIGHT = 8
MAX_IN_FLIGHT_PER_ENDPOINT = 2
# A lease outlives the longest attempt by this much (a process that dies mid-attempt is
# replaced after the attempt's timeout plus this).
LEASE_MARGIN_SECONDS = 30.0
ERROR_LENGTH = 300


def next_attempt_delay(attempts_made: int, schedule: Sequence[float]) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failed ones; None: no more."""
    if attempts_made <= len(schedule):
        return schedule[attempts_made - 1]
    return None


class WebhookDispatcher:
    def __init__(
        self,
        repo: WebhookRepository,
        signer: WebhookSigner,
        *,
        retry_schedule: Sequence[float],
        timeout_seconds: float,
    ):
        self.repo = repo
        self.signer = signer
        self.retry_schedule = tuple(retry_schedule)
        self.timeout_seconds = timeout_seconds
        self.owner = this_process()
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.Task[None] | None = None
        self._in_flight: dict[asyncio.Task[None], str] = {}  # attempt → its endpoint
        self._slot_freed = asyncio.Event()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": f"kithost/{__version__}"},
        )
        self._loop = asyncio.create_task(self._run(), name="kithost-webhooks")

    async def close(self) -> None:
        """Stop claiming, abandon attempts in flight and give up their leases: another
        process (or this one restarted) makes them again at once."""
        tasks = [task for task in (self._loop, *self._in_flight) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = None
        self._in_flight.clear()
        try:
            await self.repo.release(self.owner)
        except Exception:  # the database may already be gone; the leases will lapse
            log.warning("webhooks: could not release this process's leases", exc_info=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            self._slot_freed.clear()
            try:
                await self.claim_round()
            except Exception:
                log.exception("webhooks: claiming due deliveries failed; trying again")
            # Claim again on the next poll, or as soon as an attempt ends and frees a slot: a
            # backlog drains as fast as its endpoints answer, not two attempts a second.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), POLL_SECONDS)

    async def claim_round(self) -> None:
        """Claim due deliveries while attempts may start, and start each one."""
        free = MAX_IN_FLIGHT - len(self._in_flight)
        if free <= 0:
            return
        now = time.time()
        busy = Counter(self._in_flight.values())
        full = [endpoint for endpoint, count in busy.items() if count >= MAX_IN_FLIGHT_PER_ENDPOINT]
        for delivery_id, endpoint_id in await self.repo.due(now, free * 4, full):
            if free <= 0:
                break
            if busy[endpoint_id] >= MAX_IN_FLIGHT_PER_ENDPOINT:
                continue
            lease = now + self.timeout_seconds + LEASE_MARGIN_SECONDS
            claimed = await self.repo.claim(delivery_id, self.owner, now, lease)
            if claimed is None:
                continue  # another process was quicker
            task = asyncio.create_task(
                self._deliver(claimed), name=f"kithost-webhook-{delivery_id}"
            )
            self._in_flight[task] = endpoint_id
            task.add_done_callback(self._forget)
            busy[endpoint_id] += 1
            free -= 1

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._slot_freed.set()

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        outcome = await self._attempt(claimed)
        metrics.webhook_delivery(outcome.status)
        try:
            recorded = await self.repo.record(claimed, self.owner, outcome)
        except Exception:  # the lease lapses, and the attempt is made again
            log.exception("webhooks: could not record the attempt on %s", claimed.id)
            return
        if not recorded:
            log.info("webhooks: %s was taken over while being sent", claimed.id)

    async def _attempt(self, claimed: ClaimedDelivery) -> AttemptOutcome:
        assert self._client is not None, "start() first"
        started = time.time()
        headers = {
            **self.signer.headers(
                claimed.endpoint_id,
                claimed.secret_version,
                claimed.id,
                claimed.payload,
                started,
            ),
            "content-type": "application/json",
        }
        status_code: int | None = None
        error: str | None = None
        try:
            # The client's timeout bounds each read; this bounds the whole attempt.
            async with asyncio.timeout(self.timeout_seconds):
                async with self._client.stream(
                    "POST", claimed.url, content=claimed.payload, headers=headers
                ) as response:
                    status_code = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.timeout_seconds:g} s"
        except Exception as exc:  # refused, reset, bad TLS, an URL httpx cannot send to, …
            error = f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
        if status_code is not None and 200 <= status_code < 300:
            return AttemptOutcome("delivered", started, status_code, None, None)
        if status_code is not None:
            error = f"the endpoint answered {status_code}"
        delay = next_attempt_delay(claimed.attempts + 1, self.retry_schedule)
        if delay is None:
            return AttemptOutcome("failed", started, status_code, error, None)
        return AttemptOutcome("pending", started, status_code, error, started + delay)
