"""A run executing in this process: its events in memory, for followers on this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from kithost.core.run_usage import RunUsage
from kithost.core.stop_reason import StopKind, StopReason
from kithost.runs.model import RunRecord


class LiveRun:
    def __init__(self, record: RunRecord):
        self.record = record
        self.events: list[bytes] = []  # events[i] has sequence number i + 1
        self.journaled = 0  # how many events the journal already has
        self.stop_reason = StopReason()
        self.usage = RunUsage()  # tokens per model and time to first token, written at the end
        self.stopping = False  # a stop was asked for; the task is saving the partial answer
        self.task: asyncio.Task[str] | None = None
        self._done = asyncio.Event()
        self._grew = asyncio.Event()

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def last_event_id(self) -> int:
        return len(self.events)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def append(self, event: bytes) -> int:
        self.events.append(event)
        grew, self._grew = self._grew, asyncio.Event()
        grew.set()
        return len(self.events)

    def unjournaled(self) -> list[tuple[str, int, bytes]]:
        """Events not yet in the journal; ``journaled`` moves once they are written."""
        return [
            (self.id, seq, self.events[seq - 1])
            for seq in range(self.journaled + 1, len(self.events) + 1)
        ]

    def stop(self, kind: StopKind = "stop") -> None:
        """Cancel the turn's task; the ChatKit server keeps the partial answer."""
        # Once only: a second cancel (a repeated signal, the lease round seeing the cancel flag)
        # would land in the middle of saving the partial answer and lose it.
        if self.task is not None and not self.task.done() and not self.stopping:
            self.stop_reason.kind = kind
            self.stopping = True
            self.task.cancel()

    def mark_done(self) -> None:
        self._done.set()
        self._grew.set()

    async def wait_done(self, within: float | None = None) -> bool:
        """Whether the run ended (its status recorded) within ``within`` seconds."""
        try:
            await asyncio.wait_for(self._done.wait(), within)
        except TimeoutError:
            return False
        return True

    async def follow(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        """Events after ``after``, then live ones until the run ends."""
        position = after
        while True:
            grew = self._grew
            while position < len(self.events):
                position += 1
                yield position, self.events[position - 1]
            if self.done:
                return
            await grew.wait()
