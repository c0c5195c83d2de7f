"""One streamed agent run, read by two consumers: the chat, and the export that started it.

The Agents SDK lets only one reader drain a run's events. kithost needs them to stream the
visible agent into the chat; an export that calls ``Runner.run_streamed`` reads them too, with
``async for event in result.stream_events()``. A pump task drains the run once and hands each
event to both. The export keeps the SDK's own ``RunResultStreaming`` (``final_output``,
``new_items``, ``to_input_list()``, …); only its ``stream_events`` reads from kithost's copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from agents.result import RunResultStreaming
from agents.stream_events import StreamEvent
from chatkit.types import ThreadStreamEvent

from kithost.workflows.model_metrics import record_model_usage

log = logging.getLogger("kithost.workflows")

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
# Turns the run's events (through a stand-in result) into chat events.
ChatStream = Callable[[RunResultStreaming], AsyncIterator[ThreadStreamEvent]]
Emit = Callable[[ThreadStreamEvent], Awaitable[None]]


@dataclass(frozen=True)
class _End:
    error: BaseException | None


class StreamedRun:
    def __init__(
        self, result: RunResultStreaming, spawn: Spawn, chat: ChatStream | None, emit: Emit
    ):
        self.result = result
        self.error: BaseException | None = None
        self.consumed = False
        self._for_export: asyncio.Queue[StreamEvent | _End] = asyncio.Queue()
        self._for_chat: asyncio.Queue[StreamEvent | _End] | None = (
            asyncio.Queue() if chat is not None else None
        )
        self._chat_error: BaseException | None = None
        self._pump = spawn(self._drain())
        self._chat = spawn(self._show(chat, emit)) if chat is not None else None
        # The SDK's result, as the export expects it; its events come from kithost's copy.
        setattr(result, "stream_events", self.stream_events)  # noqa: B010

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """What the export reads: every event, then the run's failure if it failed."""
        if self.consumed:
            return
        while not isinstance(event := await self._for_export.get(), _End):
            yield event
        self.consumed = True
        await self.finish()

    async def finish(self) -> None:
        """Wait until the run is over and the chat has shown all of it; raise what failed."""
        self.consumed = True
        await self._pump
        if self._chat is not None:
            await self._chat
        if self.error is not None:
            raise self.error
        if self._chat_error is not None:
            raise self._chat_error

    async def _drain(self) -> None:
        error: BaseException | None = None
        try:
            async for event in RunResultStreaming.stream_events(self.result):
                self._for_export.put_nowait(event)
                if self._for_chat is not None:
                    self._for_chat.put_nowait(event)
            error = self.result.run_loop_exception
        except Exception as failure:  # the run's own failure: each reader gets it at its end
            error = failure
        finally:
            if not self.result.is_complete:
                self.result.cancel()
            record_model_usage(self.result, error)
            self.error = error
            self._for_export.put_nowait(_End(error))
            if self._for_chat is not None:
                self._for_chat.put_nowait(_End(error))

    async def _show(self, chat: ChatStream, emit: Emit) -> None:
        assert self._for_chat is not None
        view = cast(RunResultStreaming, _ChatView(self._for_chat))
        try:
            async for event in chat(view):
                await emit(event)
        except Exception as failure:
            # The run's failure reaches the export, which decides; anything else is kithost's.
            if failure is not self.error:
                log.debug("showing a streamed run failed: %s", type(failure).__name__)
                self._chat_error = failure


class _ChatView:
    """Stands in for the run's result where ChatKit reads its events."""

    def __init__(self, queue: asyncio.Queue[StreamEvent | _End]):
        self._queue = queue

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        while not isinstance(event := await self._queue.get(), _End):
            yield event
        if event.error is not None:
            # ChatKit takes back what it showed of a run a guardrail stopped.
            raise event.error
