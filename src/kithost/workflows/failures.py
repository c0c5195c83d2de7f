"""Turn a failed run into a message a person can act on (shown as a ChatKit ``error`` event)."""

from __future__ import annotations

import json

import openai
from agents.exceptions import AgentsException, MaxTurnsExceeded, ModelBehaviorError

from kithost.workflows.providers import NoProviderConfigured


def describe_failure(error: BaseException) -> str:
    if isinstance(error, NoProviderConfigured):
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
    if isinstance(error, openai.APIStatusError):
        return f"The model provider answered with an error (HTTP {error.status_code})."
    if isinstance(error, openai.APIError):
        # An error event inside a stream that had started well (no HTTP status to report).
        return f"The model provider reported an error while answering: {error.message}"
    if isinstance(error, json.JSONDecodeError) and _raised_in_openai_client(error):
        return "The model provider sent a malformed response that kithost could not read."
    if isinstance(error, MaxTurnsExceeded):
        return "The workflow stopped: it used more turns than allowed."
    if isinstance(error, ModelBehaviorError):
        return f"The model's answer could not be used: {error}"
    if isinstance(error, AgentsException):
        return f"The workflow failed: {error}"
    return f"The workflow failed ({type(error).__name__})."


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
