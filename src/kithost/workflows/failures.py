"""Turn a failed run into a message a person can act on (shown as a ChatKit ``error`` event),
whether trying again can help, and one secret-free line for the operator's log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import TracebackType

import openai
from agents.exceptions import (
    AgentsException,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelBehaviorError,
    OutputGuardrailTripwireTriggered,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
    UserError,
)

from kithost.workflows.hosted import UnsupportedHostedTool
from kithost.workflows.providers import NoProviderConfigured
from kithost.workflows.redaction import redact

# Mistakes in code (an export's or kithost's): the same turn fails the same way again.
PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    AttributeError,
    TypeError,
    KeyError,
    IndexError,
    NameError,
    ValueError,
    AssertionError,
    ArithmeticError,
    ImportError,
    NotImplementedError,
    RecursionError,
)
# HTTP statuses a retry can get past: timeout, conflict, rate limit (5xx: always).
RETRYABLE_STATUSES = frozenset({408, 409, 429})
TRIPWIRES = (
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailTripwireTriggered,
)
# Exports load under this module-name prefix (sources/agent_builder.py::load_module).
EXPORT_MODULE_PREFIX = "kithost_workflow_"


@dataclass(frozen=True)
class Failure:
    message: str
    """For the person in the chat: what happened, no internals."""
    allow_retry: bool
    """Whether sending the message again can succeed."""
    log_line: str
    """For the operator: ``file:line: Type: message`` (redacted)."""


def classify_failure(error: BaseException) -> Failure:
    return Failure(describe_failure(error), is_retryable(error), log_line(error))


def describe_failure(error: BaseException) -> str:
    if isinstance(error, NoProviderConfigured | UnsupportedHostedTool):
        return str(error)
    if isinstance(error, openai.APITimeoutError):
        return "The model provider did not answer in time. Try again."
    if isinstance(error, openai.APIConnectionError):
        if _connection_broke(error):
            return "The model provider's connection broke off before the answer was complete."
        return "The model provider could not be reached. Check OPENAI_BASE_URL and try again."
    if isinstance(error, openai.AuthenticationError):
        return "The model provider refused kithost's API key (OPENAI_API_KEY)."
    if isinstance(error, openai.NotFoundError):
        return (
            "The model provider does not know the requested model; map it with "
            "KITHOST_MODEL_ALIASES."
        )
    if isinstance(error, openai.RateLimitError):
        return "The model provider is rate-limiting kithost (HTTP 429). Try again shortly."
    if isinstance(error, openai.APIStatusError):
        return f"The model provider answered with an error (HTTP {error.status_code})."
    if isinstance(error, openai.APIError):
        # An error event inside a stream that had started well (no HTTP status to report).
        return f"The model provider reported an error while answering: {redact(error.message)}"
    if isinstance(error, json.JSONDecodeError) and _raised_in_openai_client(error):
        return "The model provider sent a malformed response that kithost could not read."
    if isinstance(error, TRIPWIRES) or _is_guardrails(error, "GuardrailTripwireTriggered"):
        return "The message was blocked by one of the workflow's guardrails."
    if isinstance(error, MaxTurnsExceeded):
        return "The workflow stopped: it used more turns than allowed."
    if isinstance(error, ModelBehaviorError):
        return f"The model's answer could not be used: {redact(str(error))}"
    if isinstance(error, AgentsException):
        return f"The workflow failed: {redact(str(error))}"
    return f"The workflow failed ({type(error).__name__})."


def is_retryable(error: BaseException) -> bool:
    """False for what no retry can fix: configuration, unsupported tools, code mistakes."""
    if isinstance(error, NoProviderConfigured | UnsupportedHostedTool | UserError):
        return False
    if isinstance(error, TRIPWIRES) or _is_guardrails(
        error, "GuardrailTripwireTriggered", "ConfigError", "UserError", "ContextValidationError"
    ):
        return False
    if isinstance(error, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        return status >= 500 or status in RETRYABLE_STATUSES
    if isinstance(error, openai.APIError):
        return True  # an error event mid-stream: the provider's trouble, often passing
    if isinstance(error, json.JSONDecodeError) and _raised_in_openai_client(error):
        return True
    return not isinstance(error, PROGRAMMING_ERRORS)


def log_line(error: BaseException) -> str:
    """``file:line: Type: message``: where it failed in the export (else the innermost frame
    that has a file), and why, redacted. No traceback: its source lines may hold secrets."""
    where = failure_location(error.__traceback__)
    cause = f"{type(error).__name__}: {redact(str(error))}".rstrip(": ")
    return f"{where}: {cause}" if where else cause


def failure_location(traceback: TracebackType | None) -> str | None:
    export: str | None = None
    innermost: str | None = None
    while traceback is not None:
        frame = traceback.tb_frame
        here = f"{frame.f_code.co_filename}:{traceback.tb_lineno}"
        innermost = here
        if str(frame.f_globals.get("__name__", "")).startswith(EXPORT_MODULE_PREFIX):
            export = here
        traceback = traceback.tb_next
    return export or innermost


def _is_guardrails(error: BaseException, *names: str) -> bool:
    """An exception of the ``guardrails`` package (not imported here: it is heavy)."""
    kind = type(error)
    return kind.__module__.split(".")[0] == "guardrails" and kind.__name__ in names


def _connection_broke(error: openai.APIConnectionError) -> bool:
    """Whether the provider's connection dropped mid-answer (rather than never opened).

    By name: the openai SDK raises the errors of its own HTTP library (httpx2), not httpx's.
    """
    return type(error.__cause__).__name__ in ("RemoteProtocolError", "ReadError")


def _raised_in_openai_client(error: BaseException) -> bool:
    """Whether ``error`` came from the openai SDK reading the provider's answer (not the
    workflow's own code)."""
    frame = error.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).startswith("openai."):
            return True
        frame = frame.tb_next
    return False
