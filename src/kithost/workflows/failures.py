"""Turn a failed run into a message a person can act on (shown as a ChatKit ``error`` event)."""

from __future__ import annotations

import openai
from agents.exceptions import AgentsException, MaxTurnsExceeded, ModelBehaviorError

from kithost.workflows.providers import NoProviderConfigured


def describe_failure(error: BaseException) -> str:
    if isinstance(error, NoProviderConfigured):
        return str(error)
    if isinstance(error, openai.APITimeoutError):
        return "The model provider did not answer in time. Try again."
    if isinstance(error, openai.APIConnectionError):
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
    if isinstance(error, MaxTurnsExceeded):
        return "The workflow stopped: it used more turns than allowed."
    if isinstance(error, ModelBehaviorError):
        return f"The model's answer could not be used: {error}"
    if isinstance(error, AgentsException):
        return f"The workflow failed: {error}"
    return f"The workflow failed ({type(error).__name__})."
