"""What one ``run_guardrails`` call shares with the client its checks use.

The checks run as separate tasks, so the call sets these context variables to objects that the
tasks fill in (a task's own ``set`` would not be seen by the caller).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

_FAILURES: contextvars.ContextVar[list[BaseException]] = contextvars.ContextVar(
    "kithost_guardrail_provider_failures"
)
_CATEGORIES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "kithost_moderation_categories"
)


@contextmanager
def guardrail_call(categories: Sequence[str]) -> Iterator[list[BaseException]]:
    """Within: provider failures are collected in the list given; moderation asks about
    ``categories`` (all of them when empty)."""
    failures: list[BaseException] = []
    failures_token = _FAILURES.set(failures)
    categories_token = _CATEGORIES.set(tuple(categories))
    try:
        yield failures
    finally:
        _CATEGORIES.reset(categories_token)
        _FAILURES.reset(failures_token)


def note_provider_failure(error: BaseException) -> None:
    """Keep the provider's own error: the LLM checks turn it into a bare ``Exception(str)``."""
    failures = _FAILURES.get(None)
    if failures is not None:
        failures.append(error)


def moderation_categories() -> tuple[str, ...]:
    """The categories the current ``run_guardrails`` call's Moderation checks (empty: all)."""
    return _CATEGORIES.get(())
