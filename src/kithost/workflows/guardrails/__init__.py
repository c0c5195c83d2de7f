"""Guardrails in Agent Builder exports (openai-guardrails), on any model provider.

- ``environment``: what an export gets when it imports ``openai`` or ``guardrails``, so that
  its import-time ``AsyncOpenAI()`` needs no ``OPENAI_API_KEY`` and its guardrails use kithost's
  provider client;
- ``client``: that client (aliases, ``KITHOST_MODEL_API``, moderation routing);
- ``moderation``: the Moderation guardrail as an LLM check where the provider is not OpenAI;
- ``checks``: ``run_guardrails`` with clear errors, and PII without its spaCy model;
- ``findings``: what ``workflows check`` says about each guardrail an export configures.
"""

from kithost.workflows.guardrails.environment import ExportEnvironment

__all__ = ["ExportEnvironment"]
