"""Running agents inside one ChatKit turn.

A ``TurnRuntime`` is what every agent call of a turn shares: the model provider, the thread's
earlier turns, the tracing choice, and the queue through which visible agents' output streams
into the chat. It is reached through a context variable, so that an Agent Builder export's
plain ``Runner.run(...)`` calls can be served without editing the file.

Every run gets the caller's own ``context`` object (an export's variable class, say); what
ChatKit needs to stream the answer (``AgentContext``) travels beside it, and is the run's
context only when the caller gives none. Runs may be awaited (``run_agent``), streamed by the
caller too (``start_streamed``), or waited for from a worker thread (``run_from_thread``).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
from agents import (
    Agent,
    ModelSettings,
    RunConfig,
    RunErrorHandlers,
    RunHooks,
    Runner,
    RunState,
    TResponseInputItem,
)
from agents.result import RunResultBase, RunResultStreaming
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.types import AssistantMessageItem, ThreadItemDoneEvent, ThreadStreamEvent

from kithost.core.context import RequestContext
from kithost.core.traces import SpanRecord
from kithost.workflows.base import Turn, user_text
from kithost.workflows.history import HistoryConverter, fit_to_api, with_attachments
from kithost.workflows.hosted import HostedTools
from kithost.workflows.hosted.sources import collecting_sources, with_sources
from kithost.workflows.item_ids import with_kithost_item_ids
from kithost.workflows.model_metrics import record_model_usage
from kithost.workflows.providers import KithostModelProvider
from kithost.workflows.redaction import register_secret
from kithost.workflows.streamed_run import StreamedRun
from kithost.workflows.worker_threads import carry_context_into_executor, in_event_loop

_CURRENT: contextvars.ContextVar[TurnRuntime] = contextvars.ContextVar("kithost_turn_runtime")
_DONE = object()
DEFAULT_MAX_TURNS = 10  # the Agents SDK's
T = TypeVar("T")
AgentInput = str | list[TResponseInputItem] | RunState[Any]


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
    attachment_parts: list[Any] = dataclasses.field(default_factory=list)
    """The current message's attachments as input parts, added to every agent's input."""
    loop: asyncio.AbstractEventLoop | None = None
    """The loop the turn runs on (set by ``drive``), for runs started from worker threads."""
    _events: asyncio.Queue[Any] = dataclasses.field(default_factory=asyncio.Queue)
    _children: set[asyncio.Task[Any]] = dataclasses.field(default_factory=set)
    _streamed: list[StreamedRun] = dataclasses.field(default_factory=list)

    @classmethod
    async def start(
        cls,
        turn: Turn,
        provider: KithostModelProvider,
        hosted_tools: HostedTools,
        converter: HistoryConverter,
    ) -> TurnRuntime:
        """Prepare a turn: load and convert every earlier item of the thread, and the new
        message's attachments."""
        items = await turn.history()
        current = turn.input.id if turn.input else None
        earlier = [item for item in items if item.id != current]
        earlier_input = await converter.to_agent_input(earlier) if earlier else []
        attachments = turn.input.attachments if turn.input else []
        register_secret(provider.config.api_key)
        return cls(
            turn=turn,
            provider=provider,
            hosted_tools=hosted_tools,
            converter=converter,
            tracing_enabled=turn.context.session.workflow.tracing_enabled,
            earlier_turns=fit_to_api(earlier_input, provider.config.api),
            attachment_parts=[
                await converter.attachment_to_message_content(item) for item in attachments
            ],
        )

    async def current_input(self) -> list[TResponseInputItem]:
        """The new user message as model input (attachments included)."""
        if self.turn.input is None:
            return []
        return await self.converter.to_agent_input([self.turn.input])

    def run_config(self, given: RunConfig | dict[str, Any] | None = None) -> RunConfig:
        base = RunConfig(**given) if isinstance(given, dict) else given or RunConfig()
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
        input: AgentInput,
        run_config: RunConfig | dict[str, Any] | None = None,
        max_turns: int | None = None,
        *,
        context: Any = None,
        hooks: RunHooks[Any] | None = None,
        error_handlers: RunErrorHandlers[Any] | None = None,
    ) -> RunResultBase:
        """Run ``agent`` on the earlier turns plus ``input``, to its end.

        An agent with a structured ``output_type`` runs without streaming and stays out of the
        chat (its JSON is for the workflow); any other agent streams into the thread.
        """
        if _is_structured(agent):
            agent, full_input, config = self._prepare(agent, input, run_config)
            result = await Runner.run(
                agent,
                full_input,
                context=context,
                hooks=hooks,
                run_config=config,
                max_turns=max_turns or DEFAULT_MAX_TURNS,
                error_handlers=error_handlers,
            )
            record_model_usage(result, None)
            return result
        run = self.start_streamed(
            agent,
            input,
            run_config,
            max_turns,
            context=context,
            hooks=hooks,
            error_handlers=error_handlers,
        )
        await run.finish()
        return run.result

    def start_streamed(
        self,
        agent: Agent[Any],
        input: AgentInput,
        run_config: RunConfig | dict[str, Any] | None = None,
        max_turns: int | None = None,
        *,
        context: Any = None,
        hooks: RunHooks[Any] | None = None,
        error_handlers: RunErrorHandlers[Any] | None = None,
    ) -> StreamedRun:
        """Start ``agent`` streaming: into the chat (unless structured), and to the caller
        through ``.result.stream_events()``. Call inside this turn's event loop."""
        agent, full_input, config = self._prepare(agent, input, run_config)
        agent_context: AgentContext[RequestContext] = AgentContext(
            thread=self.turn.thread, store=self.turn.store, request_context=self.turn.context
        )
        with collecting_sources() as sources:  # what local tools find shows on the answer
            result = Runner.run_streamed(
                agent,
                full_input,
                context=agent_context if context is None else context,
                hooks=hooks,
                run_config=config,
                max_turns=max_turns or DEFAULT_MAX_TURNS,
                error_handlers=error_handlers,
            )

        def chat(view: RunResultStreaming) -> AsyncIterator[ThreadStreamEvent]:
            events = with_sources(stream_agent_response(agent_context, view), sources)
            return with_kithost_item_ids(events, self.turn.new_item_id)

        visible = not _is_structured(agent)
        run = StreamedRun(result, self._spawn, chat if visible else None, self._show)
        self._streamed.append(run)
        return run

    def run_from_thread(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """From a worker thread: run ``make()`` on this turn's loop and wait for its result."""
        if in_event_loop() or self.loop is None:
            raise RuntimeError(
                "Runner.run_sync() cannot be called when an event loop is already running; "
                "await Runner.run() instead (or call run_sync from a worker thread)."
            )

        async def in_turn() -> T:
            token = _CURRENT.set(self)
            task = asyncio.current_task()
            if task is not None:  # so that a Stop cancels it with the rest of the turn
                self._children.add(task)
            try:
                return await make()
            finally:
                _CURRENT.reset(token)
                if task is not None:
                    self._children.discard(task)

        return asyncio.run_coroutine_threadsafe(in_turn(), self.loop).result()

    def _prepare(
        self, agent: Agent[Any], input: AgentInput, run_config: RunConfig | dict[str, Any] | None
    ) -> tuple[Agent[Any], str | list[TResponseInputItem] | RunState[Any], RunConfig]:
        """The agent as it runs here, its input after the earlier turns (with the current
        attachments), and the run configuration with kithost's provider."""
        config = self.run_config(run_config)
        agent = self.hosted_tools.prepare(agent)
        if isinstance(input, RunState):  # a resumed run carries its own history
            return agent, input, config
        given: list[TResponseInputItem] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        )
        given = with_attachments(given, self.attachment_parts, user_text(self.turn.input))
        full_input = fit_to_api([*self.earlier_turns, *given], self.provider.config.api)
        return agent, full_input, config

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._children.add(task)
        task.add_done_callback(self._children.discard)
        return task

    async def _show(self, event: ThreadStreamEvent) -> None:
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            self.visible_messages += 1
        await self._events.put(event)

    async def emit(self, event: ThreadStreamEvent) -> None:
        await self._events.put(event)

    async def drive(self, work: Callable[[], Awaitable[Any]]) -> AsyncIterator[ThreadStreamEvent]:
        """Run ``work`` in this runtime, yielding the events it streams.

        Its return value is then in ``outcome``. Cancelling the iteration (Stop) cancels the
        work, and with it the model call.
        """
        self.loop = asyncio.get_running_loop()
        carry_context_into_executor(self.loop)
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
            pending = [task, *self._children]
            for child in pending:
                child.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
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
            outcome = await work()
            # A streamed run the workflow never read still answers in the chat (or fails).
            for run in self._streamed:
                if not run.consumed:
                    await run.finish()
            return outcome
        finally:
            await self._events.put(_DONE)


def _is_structured(agent: Agent[Any]) -> bool:
    output_type = agent.output_type
    return output_type is not None and output_type is not str
