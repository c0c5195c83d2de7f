"""Agent Builder exports, run unmodified.

An export is a module with ``Agent(...)`` definitions, a ``WorkflowInput`` model and
``async def run_workflow(workflow_input)`` that calls ``Runner.run`` (some call
``Runner.run_streamed``, or ``Runner.run_sync`` from a thread). kithost loads the file as it is
and swaps the module's ``Runner`` for one that streams visible agents into the chat and gives
every agent the thread's earlier turns and the current message's attachments (exports pass only
the current text: chatkit-js#184). The module's ``print`` writes to the operator's log.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import agents
from agents import Agent, RunConfig
from agents.result import RunResultBase, RunResultStreaming
from chatkit.types import ThreadStreamEvent
from pydantic import BaseModel

from kithost.workflows.agent_services import AgentServices
from kithost.workflows.base import Turn, stream_assistant_text, user_text
from kithost.workflows.guardrails import ExportEnvironment
from kithost.workflows.redaction import redact, register_tool_secrets
from kithost.workflows.runtime import AgentInput, current_runtime
from kithost.workflows.templating import render_placeholders

WORKFLOW_ID = re.compile(r"^wf_[A-Za-z0-9_]+$")
log = logging.getLogger("kithost.workflows")


class WorkflowFileError(Exception):
    """A workflow file that cannot be used; ``line`` points at the problem when known."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        reason = " ".join(reason.split())  # one line: `file:line: reason`, as compilers print
        super().__init__(f"{path}:{line or 1}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line


def find_workflow_id(path: Path, source: str) -> str:
    """The ``wf_…`` id an export names in ``trace_metadata={"workflow_id": …}``."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise WorkflowFileError(path, f"not valid Python: {error.msg}", error.lineno) from None
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "workflow_id"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.add(value.value)
    if not found:
        raise WorkflowFileError(
            path, 'no workflow id: expected trace_metadata={"workflow_id": "wf_…"}'
        )
    if len(found) > 1:
        raise WorkflowFileError(path, f"several workflow ids: {', '.join(sorted(found))}")
    workflow_id = found.pop()
    if not WORKFLOW_ID.fullmatch(workflow_id):
        raise WorkflowFileError(path, f"invalid workflow id {workflow_id!r}")
    return workflow_id


def load_module(
    path: Path, workflow_id: str, version: str, environment: ExportEnvironment | None = None
) -> ModuleType:
    """Import the export under a private name; check it has what an export must have.

    With ``environment``, the export's own imports of ``openai`` and ``guardrails`` give it
    kithost's provider client and guardrails: its import-time ``AsyncOpenAI()`` needs no
    ``OPENAI_API_KEY``. That is done through the module's own ``__builtins__``, never by
    setting a variable or patching a library for the whole process, which other turns being
    served meanwhile would see (``kithost.workflows.guardrails.environment``).
    """
    name = f"kithost_workflow_{workflow_id}_{re.sub(r'[^A-Za-z0-9_]', '_', version)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkflowFileError(path, "cannot be imported")
    module = importlib.util.module_from_spec(spec)
    module.print = operator_print(workflow_id)  # type: ignore[attr-defined]
    if environment is not None:
        environment.prepare(module)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        line = _error_line(error, path)
        reason = f"import failed: {type(error).__name__}: {error}"
        raise WorkflowFileError(path, reason, line) from None
    sys.modules.pop(name, None)
    if environment is not None:
        environment.finish(module)
    if not callable(getattr(module, "run_workflow", None)):
        raise WorkflowFileError(path, "no `async def run_workflow(workflow_input)`")
    if getattr(module, "WorkflowInput", None) is None:
        raise WorkflowFileError(path, "no `class WorkflowInput(BaseModel)`")
    return module


def exported_agents(module: ModuleType) -> list[Agent[Any]]:
    """The agents an export defines at module level (what its runs can use)."""
    return [value for value in vars(module).values() if isinstance(value, Agent)]


def _error_line(error: Exception, path: Path) -> int | None:
    traceback = error.__traceback__
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == str(path):
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def operator_print(workflow_id: str) -> Callable[..., None]:
    """An export's ``print``: a line in the operator's log (redacted), never the browser's.

    Output meant for a file other than stdout/stderr still goes there.
    """

    def print_(
        *values: object,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        if file is not None and file not in (sys.stdout, sys.stderr):
            builtins.print(*values, sep=sep, end=end, file=file, flush=flush)
            return
        try:
            text = (" " if sep is None else sep).join(str(value) for value in values)
        except Exception as error:  # a value whose str() fails must not fail the turn
            text = f"<unprintable: {type(error).__name__}>"
        log.info("workflow %s printed: %s", workflow_id, redact(text))

    return print_


# Run arguments that only make sense where OpenAI keeps the conversation; kithost keeps it.
_SERVER_HISTORY = (
    "session",
    "previous_response_id",
    "auto_previous_response_id",
    "conversation_id",
)


class _RunnerType(type):
    """Whatever else ``agents.Runner`` offers stays reachable through the stand-in."""

    def __getattr__(cls, name: str) -> Any:
        return getattr(agents.Runner, name)


class ExportRunner(metaclass=_RunnerType):
    """Stands in for ``agents.Runner`` inside an export's module.

    ``context``, ``hooks``, ``max_turns`` and ``error_handlers`` are the SDK's; ``session``,
    ``previous_response_id`` and ``conversation_id`` are ignored: kithost gives every agent
    the thread's history itself.
    """

    @staticmethod
    async def run(
        starting_agent: Agent[Any],
        input: AgentInput,
        *,
        context: Any = None,
        max_turns: int | None = None,
        hooks: Any = None,
        run_config: RunConfig | None = None,
        error_handlers: Any = None,
        **others: Any,
    ) -> RunResultBase:
        runtime = current_runtime()
        _ignore(others)
        agent = render_placeholders(starting_agent, runtime.turn.state_variables)
        return await runtime.run_agent(
            agent,
            input,
            run_config,
            max_turns,
            context=context,
            hooks=hooks,
            error_handlers=error_handlers,
        )

    @staticmethod
    def run_streamed(
        starting_agent: Agent[Any],
        input: AgentInput,
        context: Any = None,
        max_turns: int | None = None,
        hooks: Any = None,
        run_config: RunConfig | None = None,
        *,
        error_handlers: Any = None,
        **others: Any,
    ) -> RunResultStreaming:
        runtime = current_runtime()
        _ignore(others)
        agent = render_placeholders(starting_agent, runtime.turn.state_variables)
        run = runtime.start_streamed(
            agent,
            input,
            run_config,
            max_turns,
            context=context,
            hooks=hooks,
            error_handlers=error_handlers,
        )
        return run.result

    @staticmethod
    def run_sync(starting_agent: Agent[Any], input: AgentInput, **options: Any) -> RunResultBase:
        """From a worker thread (``asyncio.to_thread``, ``run_in_executor``): the run happens
        on the turn's event loop; this thread waits for it."""
        runtime = current_runtime()
        return runtime.run_from_thread(lambda: ExportRunner.run(starting_agent, input, **options))


def _ignore(others: dict[str, Any]) -> None:
    for name, value in others.items():
        if name in _SERVER_HISTORY:
            if value:
                log.debug("Runner argument %s ignored: kithost supplies the thread history", name)
        else:
            raise TypeError(f"Runner.run() got an unexpected keyword argument {name!r}")


@dataclass
class AgentBuilderWorkflow:
    """An export as a kithost workflow."""

    path: Path
    module: ModuleType
    agents: AgentServices

    def __post_init__(self) -> None:
        # The one change kithost makes to an export: its Runner, in memory only.
        setattr(self.module, "Runner", ExportRunner)  # noqa: B010
        register_tool_secrets(exported_agents(self.module))

    @property
    def title_model(self) -> str | None:
        """The model of the export's first agent, for thread titles."""
        for agent in exported_agents(self.module):
            if isinstance(agent.model, str):
                return agent.model
        return None

    def workflow_input(self, turn: Turn) -> Any:
        """``WorkflowInput`` from the message, plus any field named like a state variable."""
        model = self.module.WorkflowInput
        values: dict[str, Any] = {"input_as_text": user_text(turn.input)}
        fields = getattr(model, "model_fields", {})
        for name, value in turn.state_variables.items():
            if name in fields and name != "input_as_text":
                values[name] = value
        return model(**values)

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        runtime = await self.agents.runtime(turn)
        workflow_input = self.workflow_input(turn)
        async for event in runtime.drive(lambda: self.module.run_workflow(workflow_input)):
            yield event
        if runtime.visible_messages == 0:
            # Every agent was structured (or the export answered by itself): show its output.
            text = output_text(runtime.outcome)
            if text:
                async for event in stream_assistant_text(turn, _single(text)):
                    yield event
            else:
                log.info("workflow %s gave no answer to show", self.path.name)


def output_text(outcome: Any) -> str | None:
    """What an export returned, as the chat shows it: ``{"output_text": …}`` (Agent Builder's
    shape) or a string as they are; a run result as its final output; other values as JSON."""
    if outcome is None:
        return None
    if isinstance(outcome, str):
        return outcome or None
    if isinstance(outcome, RunResultBase):
        return output_text(outcome.final_output)
    if isinstance(outcome, dict) and isinstance(outcome.get("output_text"), str):
        return str(outcome["output_text"]) or None
    if isinstance(outcome, BaseModel):
        text = getattr(outcome, "output_text", None)
        return text if isinstance(text, str) and text else outcome.model_dump_json(indent=2)
    try:
        return json.dumps(outcome, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(outcome)


async def _single(text: str) -> AsyncIterator[str]:
    yield text
