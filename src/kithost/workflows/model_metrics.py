"""Model calls, tokens and errors of an agent run, counted when the run ends.

The Agents SDK keeps every model call's usage on the run's result (``raw_responses``), whether
the run streamed or not and whether the session records traces or not. The ``model`` label is
the name the workflow asked for (before ``KITHOST_MODEL_ALIASES``), or ``default``.
"""

from __future__ import annotations

from typing import Any

import openai
from agents.result import RunResultBase

from kithost.core.run_usage import add_model_call
from kithost.observability import metrics

DEFAULT_MODEL_LABEL = "default"


def record_model_usage(result: RunResultBase, error: BaseException | None) -> None:
    from kithost.workflows.runtime import optional_runtime  # the runtime starts the runs

    runtime = optional_runtime()
    workflow = runtime.turn.context.session.workflow.id if runtime is not None else "unknown"
    model = _model_name(result.last_agent.model)
    for response in result.raw_responses:
        usage = response.usage
        metrics.model_call(workflow, model, usage.input_tokens, usage.output_tokens)
        add_model_call(model, usage.input_tokens, usage.output_tokens)
    if isinstance(error, openai.APIError):  # the provider refused, timed out or was unreachable
        metrics.model_error(workflow, model)


def record_title_usage(result: RunResultBase, model: str | None) -> None:
    """A title's model calls, for the run's usage (``/metrics`` counts workflows' calls only)."""
    for response in result.raw_responses:
        add_model_call(
            _model_name(model), response.usage.input_tokens, response.usage.output_tokens
        )


def _model_name(model: Any) -> str:
    if isinstance(model, str) and model:
        return model
    return getattr(model, "model", None) or DEFAULT_MODEL_LABEL
