"""Declarative workflows: one agent described in YAML, no Python.

```yaml
id: wf_support_bot          # required, wf_ + letters, digits, _
version: "2"                # optional, default "1"
name: Support bot
model: gpt-4.1-mini         # through KITHOST_MODEL_ALIASES like any export
instructions: |
  You help {{customer_name}} with their {{plan}} plan.
model_settings: {temperature: 0.2, max_tokens: 800}
tools: [current_time, calculator]
starter_prompts:            # optional: suggestions in a new chat
  - What does my plan include?
  - {label: Billing, prompt: "Why is my bill higher this month?"}
```
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from agents import Agent, ModelSettings
from chatkit.types import ThreadStreamEvent
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kithost.workflows.agent_services import AgentServices
from kithost.workflows.base import Turn
from kithost.workflows.sources.agent_builder import WORKFLOW_ID, WorkflowFileError
from kithost.workflows.starter_prompts import MAX_STARTER_PROMPTS, StarterPromptSpec
from kithost.workflows.templating import render
from kithost.workflows.tools import CATALOGUE


class ModelSettingsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)


class DeclarativeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=WORKFLOW_ID.pattern)
    version: str = "1"
    name: str | None = None
    model: str | None = None
    instructions: str = "You are a helpful assistant."
    model_settings: ModelSettingsSpec = Field(default_factory=ModelSettingsSpec)
    tools: list[str] = Field(default_factory=list)
    starter_prompts: list[StarterPromptSpec | str] = Field(
        default_factory=list, max_length=MAX_STARTER_PROMPTS
    )


def load_spec(path: Path) -> tuple[DeclarativeSpec, int]:
    """Parse and check a YAML workflow; returns it with the line its id is on."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise WorkflowFileError(
            path, f"not valid YAML: {_yaml_problem(error)}", mark.line + 1 if mark else None
        ) from None
    if not isinstance(data, dict):
        raise WorkflowFileError(path, "expected a mapping with at least `id`")
    if "version" in data and not isinstance(data["version"], str):
        data["version"] = str(data["version"])
    try:
        spec = DeclarativeSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise WorkflowFileError(
            path,
            f"{where}: {first['msg']}",
            _line_of(path, str(first["loc"][0]) if first["loc"] else ""),
        ) from None
    unknown = [tool for tool in spec.tools if tool not in CATALOGUE]
    if unknown:
        raise WorkflowFileError(
            path,
            f"unknown tool {unknown[0]!r}; available: {', '.join(sorted(CATALOGUE))}",
            _line_of(path, "tools"),
        )
    return spec, _line_of(path, "id") or 1


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's message without its source excerpts (the line is reported separately)."""
    if isinstance(error, yaml.MarkedYAMLError):
        return "; ".join(part for part in (error.context, error.problem) if part)
    return str(error)


def _line_of(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return None


@dataclass
class DeclarativeWorkflow:
    spec: DeclarativeSpec
    agents: AgentServices

    @property
    def title_model(self) -> str | None:
        return self.spec.model

    def agent(self, state_variables: dict[str, Any]) -> Agent[Any]:
        settings = self.spec.model_settings
        return Agent(
            name=self.spec.name or self.spec.id,
            instructions=render(self.spec.instructions, state_variables),
            model=self.spec.model,
            model_settings=ModelSettings(
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_tokens,
            ),
            tools=[CATALOGUE[name] for name in self.spec.tools],
        )

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        runtime = await self.agents.runtime(turn)
        agent = self.agent(turn.state_variables)
        message = await runtime.current_input()

        async def run() -> Any:
            return await runtime.run_agent(agent, message)

        async for event in runtime.drive(run):
            yield event
