"""Running agents inside one ChatKit turn.

A ``TurnRuntime`` is what every agent call of a turn shares: the model provider, the thread's
earlier turns, the tracing choice, and the queue through which visible agents' output streams
into the chat. It is reached through a context variable, so that an Agent Builder export's
plain ``Runner.run(...)`` calls can be served without editing the file.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from agents import Agent, ModelSettings, RunConfig, Runner, TResponseInputItem
from agents.result import RunResultBase
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.types import AssistantMessageItem, ThreadItemDoneEvent, ThreadStreamEvent

from kithost.core.context import RequestContext
from kithost.core.traces import SpanRecord
from kithost.workflows.base import Turn
from kithost.workflows.history import HistoryConverter
from kithost.workflows.hosted import HostedTools
from kithost.workflows.item_ids import with_kithost_item_ids
from kithost.workflows.providers import KithostModelProvider

_CURRENT: contextvars.ContextVar[TurnRuntime] = contextvars.ContextVar("kithost_turn_runtime")
_DONE = object()


def optional_runtime() -> TurnRuntime | None:
    return _CURRENT.get(None)


def current_runtime() -> TurnRuntime:
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError(
            "Runner.run was called outside a kithost turn; run the workflow through kithost."
        ) from None


@dataclasses.dataclass
class TurnRuntime:
    turn: Turn
    provider: KithostModelProvider
    hosted_tools: HostedTools
    converter: HistoryConverter
    tracing_enabled: bool
    earlier_turns: list[TResponseInputItem] = dataclasses.field(default_factory=list)
    visible_messages: int = 0
    outcome: Any = None
    spans: list[SpanRecord] = dataclasses.field(default_factory=list)
    record_spans: Callable[[list[SpanRecord]], Awaitable[None]] | None = None
    _events: asyncio.Queue[Any] = dataclasses.field(default_factory=asyncio.Queue)

    @classmethod
    async def start(
        cls,
        turn: Turn,
        provider: KithostModelProvider,
        hosted_tools: HostedTools,
        converter: HistoryConverter,
    ) -> TurnRuntime:
        """Prepare a turn: load and convert every earlier item of the thread."""
        items = await turn.history()
        current = turn.input.id if turn.input else None
        earlier = [item for item in items if item.id != current]
        return cls(
            turn=turn,
            provider=provider,
            hosted_tools=hosted_tools,
            converter=converter,
            tracing_enabled=turn.context.session.workflow.tracing_enabled,
            earlier_turns=await converter.to_agent_input(earlier) if earlier else [],
        )

    async def current_input(self) -> list[TResponseInputItem]:
        """The new user message as model input (attachments included)."""
        if self.turn.input is None:
            return []
        return await self.converter.to_agent_input([self.turn.input])

    def run_config(self, given: RunConfig | None = None) -> RunConfig:
        base = given or RunConfig()
        settings = base.model_settings
        if self.provider.config.api == "chat_completions":
            # A compatible server streams token usage only when asked, and the SDK asks only
            # OpenAI itself; without it, traces would show no usage. An explicit choice wins.
            usage = ModelSettings(include_usage=True)
            settings = usage.resolve(settings) if settings else usage
        return dataclasses.replace(
            base,
            model_provider=self.provider,
            tracing_disabled=not self.tracing_enabled,
            model_settings=settings,
        )

    async def run_agent(
        self,
        agent: Agent[Any],
        input: str | list[TResponseInputItem],
        run_config: RunConfig | None = None,
        max_turns: int | None = None,
    ) -> RunResultBase:
        """Run ``agent`` on the earlier turns plus ``input``.

        An agent with a structured ``output_type`` runs without streaming and stays out of the
        chat (its JSON is for the workflow); any other agent streams into the thread.
        """
        given = [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        full_input: list[TResponseInputItem] = [*self.earlier_turns, *given]
        config = self.run_config(run_config)
        limit = max_turns or 10
        agent = self.hosted_tools.prepare(agent)
        if _is_structured(agent):
            return await Runner.run(agent, full_input, run_config=config, max_turns=limit)
        agent_context: AgentContext[RequestContext] = AgentContext(
            thread=self.turn.thread, store=self.turn.store, request_context=self.turn.context
        )
        result = Runner.run_streamed(
            agent, full_input, context=agent_context, run_config=config, max_turns=limit
        )
        try:
            events = stream_agent_response(agent_context, result)
            async for event in with_kithost_item_ids(events, self.turn.new_item_id):
                if isinstance(event, ThreadItemDoneEvent) and isinstance(
                    event.item, AssistantMessageItem
                ):
                    self.visible_messages += 1
                await self._events.put(event)
        finally:
            if not result.is_complete:
                result.cancel()
        if result.run_loop_exception is not None:
            raise result.run_loop_exception
        return result

    async def emit(self, event: ThreadStreamEvent) -> None:
        await self._events.put(event)

    async def drive(self, work: Callable[[], Awaitable[Any]]) -> AsyncIterator[ThreadStreamEvent]:
        """Run ``work`` in this runtime, yielding the events it streams.

        Its return value is then in ``outcome``. Cancelling the iteration (Stop) cancels the
        work, and with it the model call.
        """
        token = _CURRENT.set(self)
        try:
            task = asyncio.create_task(self._finish(work))
        finally:
            _CURRENT.reset(token)
        try:
            while (event := await self._events.get()) is not _DONE:
                yield event
            self.outcome = await task
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await self._flush_spans()

    async def _flush_spans(self) -> None:
        if not self.spans or self.record_spans is None:
            return
        spans, self.spans = self.spans, []
        # Shielded: a Stop cancels this task, and the spans of the run so far still count.
        with anyio.CancelScope(shield=True):
            await self.record_spans(spans)

    async def _finish(self, work: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await work()
        finally:
            await self._events.put(_DONE)


def _is_structured(agent: Agent[Any]) -> bool:
    output_type = agent.output_type
    return output_type is not None and output_type is not str
