"""Runs on this process: start them, journal their events, follow, cancel, lease, drain.

A run executes in a task of its own; the HTTP response that started it is only its first
follower. Followers on this process read the run's events from memory; followers elsewhere read
the shared journal, woken by ``Signals``. The journal is written in small batches, off the path
of the first token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import replace

from kithost.conversation.interrupted import failed_event, interrupted_event
from kithost.conversation.service import StreamingTurn
from kithost.core.context import RequestContext
from kithost.core.errors import Conflict, Gone, Unavailable
from kithost.core.run_usage import current_run_usage
from kithost.core.stop_reason import current_stop_reason
from kithost.observability import metrics
from kithost.observability.logging import log_fields
from kithost.runs.journal import Journal
from kithost.runs.live import LiveRun
from kithost.runs.model import RunRecord, new_run_id
from kithost.runs.owners import certainly_gone, this_process
from kithost.runs.signals import Signals
from kithost.store.runs import RunRepository, ThreadBusy

log = logging.getLogger("kithost.runs")

# Events that arrive within this window go to the journal in one write. Each write costs about
# a millisecond of this process's time, so fewer are cheaper for the answer being streamed;
# longer windows make followers on other processes lag and keep less of a crashed process's
# answer (bench: BENCHMARKS.md, "The cost of durable runs").
FLUSH_DELAY = 0.2
# A follower on another process looks again at least this often, signal or not.
POLL_SECONDS = 1.0
# How long a cancel waits to report the run's final status.
CANCEL_WAIT_SECONDS = 10.0
SWEEP_EVERY_SECONDS = 60.0
FORGET_BATCH = 500
ERROR_PREFIX = b'data: {"type":"error"'
TEXT_DELTA = b'"assistant_message.content_part.text_delta"'

SaveInterrupted = Callable[[RunRecord, list[bytes]], Awaitable[None]]


class RunManager:
    def __init__(
        self,
        repo: RunRepository,
        journal: Journal,
        signals: Signals,
        save_interrupted: SaveInterrupted,
        *,
        lease_seconds: float,
        events_ttl: float,
    ):
        self.repo = repo
        self.journal = journal
        self.signals = signals
        self._save_interrupted = save_interrupted
        self.lease_seconds = lease_seconds
        self.events_ttl = events_ttl
        self.owner = this_process()
        self.draining = False
        # Set on SIGTERM, before the drain: /healthz answers 503 while runs are still taken.
        self.stopping = False
        self._live: dict[str, LiveRun] = {}
        self._dirty = asyncio.Event()
        self._journal_lock = asyncio.Lock()
        self._loops: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._swept_until = 0.0

    # lifecycle

    async def start(self) -> None:
        self.signals.on_cancel = self._on_cancel_signal
        await self.signals.start()
        self._loops = [
            asyncio.create_task(self._flush_loop(), name="kithost-runs-journal"),
            asyncio.create_task(self._keep_loop(), name="kithost-runs-leases"),
        ]

    def announce_stop(self) -> None:
        """From now on ``/healthz`` says ``draining``; runs are still taken until ``drain``."""
        self.stopping = True

    async def drain(self, seconds: float) -> None:
        """Take no new runs; let running ones finish for ``seconds``, then interrupt the rest."""
        self.stopping = self.draining = True
        running = list(self._live.values())
        if running and seconds > 0:
            log.info(
                "draining: waiting up to %.0f s for %d running answer(s)", seconds, len(running)
            )
            await asyncio.wait(
                [asyncio.ensure_future(live.wait_done()) for live in running], timeout=seconds
            )
        remaining = [live for live in self._live.values() if not live.done]
        for live in remaining:
            live.stop("interrupt")
        if remaining:
            log.info("draining: interrupted %d answer(s), partial answers kept", len(remaining))
            await asyncio.wait(
                [asyncio.ensure_future(live.wait_done()) for live in remaining], timeout=10
            )

    async def close(self) -> None:
        await self.drain(0)
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()
        await self.signals.close()
        await self.journal.close()

    @property
    def running(self) -> int:
        return len(self._live)

    # starting

    def check_accepting(self) -> None:
        """Refuse new runs while draining (a load balancer sends the retry elsewhere)."""
        if self.draining:
            raise Unavailable(
                "This server is shutting down and takes no new answers; send the request again.",
                code="draining",
            )

    async def start_run(self, turn: StreamingTurn, context: RequestContext) -> LiveRun:
        self.check_accepting()
        now = time.time()
        workflow = context.session.workflow
        record = RunRecord(
            id=new_run_id(),
            thread_id=turn.thread_id,
            session_id=context.session.id,
            user=context.user,
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            request_type=turn.request_type,
            status="in_progress",
            created_at=now,
            ended_at=None,
            last_event_id=0,
            owner=self.owner,
            lease_expires_at=now + self.lease_seconds,
            cancel_requested_at=None,
        )
        try:
            await self.repo.insert(record)
        except ThreadBusy:
            # Rarely taken, so the common path costs one write: see why the thread is busy.
            await self._ensure_thread_free(turn.thread_id or "")
            try:
                await self.repo.insert(record)
            except ThreadBusy:
                raise _busy(turn.thread_id or "", None) from None
        live = LiveRun(record)
        self._live[record.id] = live
        live.task = asyncio.create_task(self._consume(live, turn.events), name=f"run {record.id}")
        self._spawn(self._supervise(live, live.task))
        return live

    async def _ensure_thread_free(self, thread_id: str) -> None:
        running = await self.repo.in_progress_on(thread_id)
        if running is None:
            return
        if await self._ends_soon(running):
            # A Stop just sent (an aborted request, a cancel) is still saving the partial
            # answer: the message typed right after it waits for that instead of a 409.
            return
        if self._orphaned(running):
            await self._interrupt_orphan(running)
            if (await self.repo.in_progress_on(thread_id)) is None:
                return
        raise _busy(thread_id, running.id)

    async def _ends_soon(self, run: RunRecord) -> bool:
        """Whether a run that is being stopped ended within the cancel wait."""
        live = self._live.get(run.id)
        if live is not None:
            return live.stopping and await live.wait_done(CANCEL_WAIT_SECONDS)
        if run.cancel_requested_at is None:
            return False
        ended = await self._wait_until_finished(run)
        return ended is None or ended.finished

    async def _wait_until_finished(self, run: RunRecord) -> RunRecord | None:
        """The run as it stands once it ended on another process, or after the cancel wait.

        A run whose process turns out to be gone meanwhile is interrupted here.
        """
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        current: RunRecord | None = run
        while time.monotonic() < deadline:
            with self.signals.watch(run.id) as woke:
                current = await self.repo.get(run.id)
                if current is None or current.finished:
                    break
                if self._orphaned(current):
                    await self._interrupt_orphan(current)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woke.wait(), 0.25)
        return current

    def _orphaned(self, run: RunRecord) -> bool:
        """A run in progress whose process is gone: its lease lapsed, or it died on this host."""
        if run.status != "in_progress" or run.id in self._live:
            return False
        return run.lease_lapsed(time.time()) or certainly_gone(run.owner)

    # executing

    async def _consume(self, live: LiveRun, events: AsyncIterator[bytes]) -> str:
        """Run the turn to its end; the returned status is the run's."""
        current_stop_reason.set(live.stop_reason)
        current_run_usage.set(live.usage)
        status = "completed"
        first_token = False
        try:
            async for event in events:
                live.append(event)
                if not first_token and TEXT_DELTA in event:
                    first_token = True
                    live.usage.first_token_seconds = time.time() - live.record.created_at
                    metrics.first_token(live.record.workflow_id, live.usage.first_token_seconds)
                if event.startswith(ERROR_PREFIX):
                    status = "failed"
                self._dirty.set()
        except asyncio.CancelledError:
            return self._stopped(live)
        except Exception as error:
            log.warning("run %s broke off: %s", live.id, type(error).__name__)
            live.append(failed_event())
            return "failed"
        return status

    async def _supervise(self, live: LiveRun, task: asyncio.Task[str]) -> None:
        """Record how the run ended, even when it was stopped before it began."""
        try:
            status = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # this process is going away: stop the turn with it
                live.stop("interrupt")
                with contextlib.suppress(BaseException):
                    await task
            status = self._stopped(live)
        if status == "interrupted":
            live.append(interrupted_event())
        await asyncio.shield(self._finish(live, status))

    @staticmethod
    def _stopped(live: LiveRun) -> str:
        return "interrupted" if live.stop_reason.kind == "interrupt" else "cancelled"

    async def _finish(self, live: LiveRun, status: str) -> None:
        try:
            await self._flush()
            ended = await self.repo.finish(
                live.id, self.owner, status, live.last_event_id, time.time(), live.usage
            )
            if not ended:
                log.warning("run %s was taken over by another process before it ended", live.id)
        except Exception as error:
            log.warning("run %s: could not record its end: %s", live.id, error)
        live.mark_done()
        self._live.pop(live.id, None)
        run_end(live.record, status, live.last_event_id)
        with contextlib.suppress(Exception):
            await self.signals.events_appended([live.id])

    def _spawn(self, coroutine: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # the journal

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(FLUSH_DELAY)
            self._dirty.clear()
            try:
                await self._flush()
            except Exception as error:
                log.warning("runs: journal write failed, will retry: %s", error)
                await asyncio.sleep(POLL_SECONDS)
                self._dirty.set()

    async def _flush(self) -> None:
        async with self._journal_lock:
            batches = {live.id: (live, live.unjournaled()) for live in list(self._live.values())}
            rows = [row for _, batch in batches.values() for row in batch]
            if not rows:
                return
            await self.journal.append(rows)
            for live, batch in batches.values():
                if batch:
                    live.journaled = batch[-1][1]
        await self.signals.events_appended(run for run, (_, batch) in batches.items() if batch)

    # following

    async def get(self, run_id: str) -> RunRecord | None:
        run = await self.repo.get(run_id)
        live = self._live.get(run_id)
        if run is not None and live is not None and run.status == "in_progress":
            # The row learns the last event id when the run ends; this process knows it now.
            run = replace(run, last_event_id=live.last_event_id)
        return run

    def check_replayable(self, run: RunRecord) -> None:
        ended = run.ended_at
        if run.finished and ended is not None and ended < time.time() - self.events_ttl:
            raise Gone(
                f"The events of run '{run.id}' are no longer kept (runs keep them for "
                f"{self.events_ttl:.0f} s after they end); read the thread's items instead.",
                code="run_events_expired",
            )

    async def follow(self, run: RunRecord, after: int) -> AsyncIterator[tuple[int, bytes]]:
        """The run's events after ``after``: replayed, then live until the run ends."""
        live = self._live.get(run.id)
        if live is not None:
            async for event in live.follow(after):
                yield event
            return
        position = after
        while True:
            with self.signals.watch(run.id) as woke:
                current = await self.repo.get(run.id)
                batch = await self.journal.read(run.id, position)
                for seq, data in batch:
                    yield seq, data
                    position = seq
                if batch:
                    continue
                if current is None or current.finished:
                    if current is not None and _ahead_of_journal(current, after):
                        batch = await self.journal.read(run.id, current.last_event_id - 1)
                        for seq, data in batch:
                            yield seq, data
                    return
                if self._orphaned(current):
                    await self._interrupt_orphan(current)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woke.wait(), POLL_SECONDS)

    # stopping

    async def cancel(self, run: RunRecord) -> RunRecord:
        """Stop the run wherever it executes; idempotent. Returns the run as it then stands."""
        if run.finished:
            return run
        live = self._live.get(run.id)
        if live is not None:
            live.stop()
            await live.wait_done(CANCEL_WAIT_SECONDS)
            return await self.repo.get(run.id) or run
        await self.repo.request_cancel(run.id, time.time())
        await self.signals.cancel_requested(run.id)
        return await self._wait_until_finished(run) or run

    def _on_cancel_signal(self, run_id: str) -> None:
        live = self._live.get(run_id)
        if live is not None:
            live.stop()

    # leases and orphans

    async def _keep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self._keep()
            except Exception as error:
                log.warning("runs: lease round failed: %s", error)

    async def _keep(self) -> None:
        now = time.time()
        # Cancels whose signal was lost still arrive, through the row.
        for run_id in await self.repo.renew(self.owner, now + self.lease_seconds):
            self._on_cancel_signal(run_id)
        for orphan in await self.repo.lapsed(now):
            if orphan.id not in self._live:
                await self._interrupt_orphan(orphan)
        if now - self._swept_until > self.events_ttl + min(SWEEP_EVERY_SECONDS, self.events_ttl):
            await self._sweep(now)

    async def _sweep(self, now: float) -> None:
        """Delete the journals of runs that ended more than the retention ago."""
        cut = now - self.events_ttl
        ended = await self.repo.ended_between(self._swept_until, cut)
        for start in range(0, len(ended), FORGET_BATCH):
            await self.journal.forget(ended[start : start + FORGET_BATCH])
        self._swept_until = cut

    async def _interrupt_orphan(self, run: RunRecord) -> None:
        """End a run whose process died: keep its partial answer, and say so to its followers."""
        now = time.time()
        lapsed_before = None if certainly_gone(run.owner) else now
        if not await self.repo.take_over(
            run.id, run.owner, self.owner, now + self.lease_seconds, lapsed_before
        ):
            return  # another process got there first
        events: list[bytes] = []
        while True:
            batch = await self.journal.read(run.id, len(events))
            if not batch:
                break
            events.extend(data for _, data in batch)
        try:
            await self._save_interrupted(run, events)
        except Exception as error:
            log.warning("run %s: could not save its partial answer: %s", run.id, error)
        last = len(events) + 1
        await self.journal.append([(run.id, last, interrupted_event())])
        await self.repo.finish(run.id, self.owner, "interrupted", last, time.time())
        await self.signals.events_appended([run.id])
        log.info("run %s interrupted (its process stopped); partial answer kept", run.id)
        run_end(run, "interrupted", last)


def run_end(run: RunRecord, status: str, events: int) -> None:
    """A run's end, counted and logged: one structured line, with no message text."""
    seconds = time.time() - run.created_at
    metrics.run_ended(run.workflow_id, status, seconds)
    log.info(
        "run %s %s",
        run.id,
        status,
        extra=log_fields(
            event="run",
            run_id=run.id,
            thread_id=run.thread_id,
            session_id=run.session_id,
            workflow=run.workflow_id,
            status=status,
            duration_ms=round(seconds * 1000),
            events=events,
        ),
    )


def _ahead_of_journal(run: RunRecord, after: int) -> bool:
    """Whether a reader resuming an interrupted run after ``after`` may miss how it ended.

    A process streams events before its journal has them; when it dies, its client may have
    seen events past the journal's end, and the error event that ends the run is numbered
    after the journal, perhaps no higher than what the client last saw. Such a reader gets
    that last event all the same (one that already had it gets it again, harmlessly).
    """
    return run.status == "interrupted" and after >= run.last_event_id > 0


def _busy(thread_id: str, running: str | None) -> Conflict:
    which = f" ('{running}')" if running else ""
    return Conflict(
        f"Thread '{thread_id}' already has a run in progress{which}: follow it with "
        "GET /v1/chatkit/runs/{run_id}/events, or cancel it, before sending more.",
        param="params.thread_id",
        code="run_in_progress",
    )
