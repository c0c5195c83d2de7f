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
file_search:                # optional: search kithost's vector stores (FileSearchTool)
  vector_store_ids: [vs_68f3e1b2c8048191a0b1c2d3e4f5a6b7]
  max_num_results: 5        # optional, 1 to 50 (default 10)
  filters: {type: eq, key: team, value: legal}   # optional, OpenAI's attribute filters
starter_prompts:            # optional: suggestions in a new chat
  - What does my plan include?
  - {label: Billing, prompt: "Why is my bill higher this month?"}
retention_days: 30          # optional: delete its threads 30 days after their last activity
                            # (0 = keep forever); overrides KITHOST_THREAD_RETENTION_DAYS
```
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from agents import Agent, FileSearchTool, ModelSettings, Tool
from chatkit.types import ThreadStreamEvent
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kithost.core.errors import InvalidRequest
from kithost.retrieval.filters import check_filter
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


class FileSearchSpec(BaseModel):
    """``FileSearchTool``'s options, as an export writes them."""

    model_config = ConfigDict(extra="forbid")

    vector_store_ids: list[str] = Field(min_length=1)
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    filters: dict[str, Any] | None = None

    @field_validator("vector_store_ids")
    @classmethod
    def _store_ids(cls, value: list[str]) -> list[str]:
        for store_id in value:
            if not store_id.startswith("vs_"):
                raise ValueError(f"{store_id!r} is not a vector store id (vs_…)")
        return value

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                check_filter(value)
            except InvalidRequest as problem:
                raise ValueError(str(problem)) from None
        return value

    def tool(self) -> FileSearchTool:
        # A plain dict of filters reaches the tool as an export's would (see hosted/file_search).
        filters: Any = self.filters
        return FileSearchTool(
            vector_store_ids=list(self.vector_store_ids),
            max_num_results=self.max_num_results,
            filters=filters,
        )


class DeclarativeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=WORKFLOW_ID.pattern)
    version: str = "1"
    name: str | None = None
    model: str | None = None
    instructions: str = "You are a helpful assistant."
    model_settings: ModelSettingsSpec = Field(default_factory=ModelSettingsSpec)
    tools: list[str] = Field(default_factory=list)
    file_search: FileSearchSpec | None = None
    starter_prompts: list[StarterPromptSpec | str] = Field(
        default_factory=list, max_length=MAX_STARTER_PROMPTS
    )
    retention_days: int | None = Field(default=None, ge=0)


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
            tools=self.tools(),
        )

    def tools(self) -> list[Tool]:
        tools: list[Tool] = [CATALOGUE[name] for name in self.spec.tools]
        if self.spec.file_search is not None:
            tools.append(self.spec.file_search.tool())
        return tools

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        runtime = await self.agents.runtime(turn)
        agent = self.agent(turn.state_variables)
        message = await runtime.current_input()

        async def run() -> Any:
            return await runtime.run_agent(agent, message)

        async for event in runtime.drive(run):
            yield event
