"""What a run spent, gathered while it executes and written once, with its end.

The run that executes a turn sets ``current_run_usage`` for its own task; every model call made
inside it (the workflow's agents, the thread's title) adds its tokens here, per model. Tasks the
turn starts copy the context, so they add to the same object.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class ModelUsage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class RunUsage:
    models: dict[str, ModelUsage] = field(default_factory=dict)
    first_token_seconds: float | None = None
    """From the run's start to its first assistant text delta; None when it wrote no text."""

    def add(self, model: str, input_tokens: int, output_tokens: int) -> None:
        usage = self.models.setdefault(model, ModelUsage())
        usage.requests += 1
        usage.input_tokens += input_tokens
        usage.output_tokens += output_tokens


current_run_usage: ContextVar[RunUsage | None] = ContextVar("run_usage", default=None)


def add_model_call(model: str, input_tokens: int, output_tokens: int) -> None:
    """Count one model call against the run executing here (nothing outside a run)."""
    usage = current_run_usage.get()
    if usage is not None:
        usage.add(model, input_tokens, output_tokens)
