"""``run_guardrails`` as an export calls it, with kithost's answers to what can go wrong.

- A check that could not reach the provider: the library turns the provider's error into a bare
  ``Exception(message)``. kithost raises the provider's own error instead, so the chat says what
  happened ("The model provider could not be reached…") the way it does for agents. Whether the
  error is raised at all stays the export's choice (``raise_guardrail_errors``).
- Contains PII without its spaCy model (the library refuses even to configure it): in masking
  mode (``block: False``) the check is skipped with a warning in the log and the text passes
  unmasked, so the turn goes on (``workflows check`` says the model is missing, before any
  turn). In blocking mode configuring it fails with ``GuardrailUnavailable`` naming the model.
- Moderation off OpenAI learns which categories to ask the model about.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from agents.exceptions import UserError
from guardrails.exceptions import ConfigError, GuardrailTripwireTriggered
from guardrails.registry import default_spec_registry
from guardrails.runtime import ConfiguredGuardrail
from guardrails.types import GuardrailResult

from kithost.workflows.guardrails.pii import SPACY_MODEL, missing_model_reason
from kithost.workflows.guardrails.pii import spacy_model_installed as _installed
from kithost.workflows.guardrails.scope import guardrail_call

log = logging.getLogger("kithost.workflows")

RunGuardrails = Callable[..., Awaitable[list[GuardrailResult]]]
Instantiate = Callable[..., list[ConfiguredGuardrail[Any, Any, Any]]]

PII = "Contains PII"
_warned: list[bool] = []


class GuardrailUnavailable(UserError):
    """A guardrail that cannot run on this server. A configuration error (the Agents SDK's
    ``UserError``): its message is safe to show, and retrying cannot help."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"The {name} guardrail cannot run on this server: it {reason}.")


def kithost_run_guardrails(real: RunGuardrails) -> RunGuardrails:
    """``real`` (the library's ``run_guardrails``) as exports get it (module docstring)."""
    signature = inspect.signature(real)

    @functools.wraps(real)
    async def run_guardrails(*args: Any, **kwargs: Any) -> list[GuardrailResult]:
        bound = signature.bind(*args, **kwargs)
        chosen = list(bound.arguments["guardrails"])
        media_type = bound.arguments["media_type"]
        skipped = [g for g in chosen if _unmaskable(g) and g.definition.media_type == media_type]
        bound.arguments["guardrails"] = [g for g in chosen if g not in skipped]
        with guardrail_call(_categories(chosen)) as failures:
            try:
                results = await real(*bound.args, **bound.kwargs)
            except GuardrailTripwireTriggered:
                raise
            except Exception as error:
                raise _clearer(error, failures) from None
        data, stage = bound.arguments["data"], bound.arguments.get("stage_name")
        return [*results, *(_skipped(data, stage) for _ in skipped)]

    return run_guardrails


def kithost_instantiate_guardrails(real: Instantiate) -> Instantiate:
    """``real`` (the library's ``instantiate_guardrails``), but Contains PII in masking mode
    is configured without its spaCy model, for ``run_guardrails`` to skip it."""

    @functools.wraps(real)
    def instantiate_guardrails(
        bundle: Any, registry: Any = None
    ) -> list[ConfiguredGuardrail[Any, Any, Any]]:
        if _installed():
            return real(bundle, registry)
        registry = registry or default_spec_registry
        configured: list[ConfiguredGuardrail[Any, Any, Any]] = []
        for item in bundle.guardrails:
            if item.name == PII and not (item.config or {}).get("block", False):
                # A stand-in config: the real one loads the model as it is built.
                config = SimpleNamespace(**{"block": False, **(item.config or {})})
                configured.append(registry.get(PII).instantiate(config=config))
                continue
            try:
                configured += real(bundle.model_copy(update={"guardrails": [item]}), registry)
            except ConfigError:
                if item.name == PII:
                    raise GuardrailUnavailable(PII, missing_model_reason()) from None
                raise
        return configured

    return instantiate_guardrails


def _unmaskable(guardrail: Any) -> bool:
    if guardrail.definition.name != PII or getattr(guardrail.config, "block", False):
        return False
    if _installed():
        return False
    if not _warned:  # once: exports run it several times a turn, and the banner says it too
        _warned.append(True)
        log.warning(
            "the Contains PII guardrail does not run, the text passes unmasked: it %s",
            missing_model_reason(),
        )
    return True


def _skipped(data: Any, stage: str | None) -> GuardrailResult:
    return GuardrailResult(
        tripwire_triggered=False,
        info={
            "guardrail_name": PII,
            "checked_text": data,
            "stage_name": stage or "unnamed",
            "skipped": f"it {missing_model_reason()}",
        },
    )


def _categories(chosen: list[Any]) -> list[str]:
    found: list[str] = []
    for guardrail in chosen:
        if guardrail.definition.name == "Moderation":
            found += [str(getattr(c, "value", c)) for c in guardrail.config.categories]
    return found


def _clearer(error: Exception, failures: list[BaseException]) -> BaseException:
    """The error that says best what went wrong (module docstring)."""
    if any(error is failure for failure in failures):
        return error
    for failure in failures:
        if str(failure) == str(error):
            return failure
    if isinstance(error, RuntimeError) and SPACY_MODEL in str(error):
        return GuardrailUnavailable(PII, missing_model_reason())
    return error
