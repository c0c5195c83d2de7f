"""What model-backed workflows share in a process: provider, hosted tools, history converter,
tracing, titles."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from agents import Agent, ModelSettings, RunConfig, Runner

from kithost.core.traces import SpanRecord
from kithost.workflows.base import Turn
from kithost.workflows.guardrails import ExportEnvironment
from kithost.workflows.history import HistoryConverter, ReadBytes
from kithost.workflows.hosted import HostedTools
from kithost.workflows.model_metrics import record_title_usage
from kithost.workflows.providers import KithostModelProvider, ProviderConfig
from kithost.workflows.runtime import TurnRuntime

log = logging.getLogger("kithost.workflows")

RecordSpans = Callable[[list[SpanRecord]], Awaitable[None]]

TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no final period."
)
MAX_TITLE_CHARS = 80


class AgentServices:
    def __init__(
        self,
        config: ProviderConfig,
        hosted_tools: HostedTools,
        read_bytes: ReadBytes,
        record_spans: RecordSpans,
    ):
        self.provider = KithostModelProvider(config)
        # What exports' imports of openai/guardrails give them: kithost's provider client.
        self.export_environment = ExportEnvironment(config)
        self.hosted_tools = hosted_tools
        self.converter = HistoryConverter(read_bytes)
        self._record_spans = record_spans

    @property
    def configured(self) -> bool:
        return self.provider.config.configured

    async def runtime(self, turn: Turn) -> TurnRuntime:
        runtime = await TurnRuntime.start(turn, self.provider, self.hosted_tools, self.converter)
        runtime.record_spans = self._record_spans
        return runtime

    async def title(self, text: str, model: str | None) -> str | None:
        """A short title from the model, or None when it cannot give one."""
        if not self.configured or not text.strip():
            return None
        agent: Agent[None] = Agent(
            name="Thread title",
            instructions=TITLE_INSTRUCTIONS,
            model=model,
            model_settings=ModelSettings(max_tokens=32),
        )
        config = RunConfig(model_provider=self.provider, tracing_disabled=True)
        try:
            result = await Runner.run(agent, text[:4000], run_config=config, max_turns=1)
        except Exception as error:  # a title is a nicety: never fail the turn for it
            log.warning("title generation failed: %s", type(error).__name__)
            return None
        record_title_usage(result, model)
        title = " ".join(str(result.final_output).split()).strip("\"'“” .")
        return title[:MAX_TITLE_CHARS] or None

    async def close(self) -> None:
        await self.provider.aclose()
