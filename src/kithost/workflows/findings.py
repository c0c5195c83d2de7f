"""What a workflow file needs from this server: the findings of every analyser, in one tuple.

An analyser reads a loaded export and returns ``Finding``s: the hosted tools it uses, the
model names it requests, its guardrails. ``ANALYSERS`` lists them; the loader asks
``export_findings`` and stores the result on the ``WorkflowVersion``, which ``workflows
check``, ``GET /v1/chatkit/workflows``, the admin console, the start banner and
``sessions.create`` all read.

Model names are judged statically, never by asking the provider: a name counts as at risk when
the provider is not OpenAI and the name kithost would send looks like one of OpenAI's
(``gpt-…``, ``o1``/``o3``/``o4…``, ``chatgpt-…``, ``codex-…``, ``computer-use-…``; not
``gpt-oss``, whose open weights compatible servers serve under that name). A compatible server
may still serve such a name (a gateway in front of OpenAI does), so at risk is a warning
(``needs_setting``), not a refusal.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from agents import Agent

from kithost.workflows.agent_services import AgentServices
from kithost.workflows.capabilities import Finding
from kithost.workflows.guardrails.findings import guardrail_findings
from kithost.workflows.hosted.search_backends import safe_url
from kithost.workflows.providers import ProviderConfig
from kithost.workflows.sources.agent_builder import exported_agents

Analyser = Callable[[ModuleType, AgentServices], Iterable[Finding]]

_OPENAI_NAME = re.compile(r"^(gpt-(?!oss)|o[1-9]|chatgpt-|codex-|computer-use-)", re.IGNORECASE)


def hosted_tool_findings(module: ModuleType, services: AgentServices) -> list[Finding]:
    return services.hosted_tools.findings(exported_agents(module))


def export_model_findings(module: ModuleType, services: AgentServices) -> list[Finding]:
    names: list[str | None] = []
    for agent in _reachable(exported_agents(module)):
        if agent.model is None or isinstance(agent.model, str):
            names.append(agent.model or None)
        # An agent given a Model object brings its own provider: nothing to judge.
    return model_findings(names, services.provider.config)


# Every analyser of an Agent Builder export, in the order their findings are listed.
ANALYSERS: tuple[Analyser, ...] = (
    hosted_tool_findings,
    guardrail_findings,
    export_model_findings,
)


def export_findings(module: ModuleType, services: AgentServices) -> tuple[Finding, ...]:
    """All findings for one export, each once; blocking ones name this server's provider."""
    found = [finding for analyse in ANALYSERS for finding in analyse(module, services)]
    label = provider_label(services.provider.config)
    return tuple(dict.fromkeys(_naming_provider(finding, label) for finding in found))


def model_findings(names: Iterable[str | None], config: ProviderConfig) -> list[Finding]:
    """How each requested model name (None: the agent names none) resolves on this server."""
    if not config.configured:
        return [
            Finding(
                "model provider",
                "needs_setting",
                "needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (an OpenAI-compatible "
                "server); until one is set, every turn of this workflow fails",
            )
        ]
    return list(dict.fromkeys(_model_finding(name, config) for name in names))


def provider_label(config: ProviderConfig) -> str:
    """The model provider in words, without credentials."""
    api = "Responses API" if config.api == "responses" else "Chat Completions"
    if not config.configured:
        return "no model provider"
    if config.reaches_openai and config.hosted_tools != "passthrough":
        return f"OpenAI ({api})"
    return f"{api} at {safe_url(config.base_url or '')}"


def _model_finding(requested: str | None, config: ProviderConfig) -> Finding:
    fallback = dataclasses.replace(config, aliases={}, default_model=None).model_name(None)
    named = requested or config.default_model or fallback
    target = config.model_name(requested)
    if requested:
        subject, how = f'model "{requested}"', "passed as is"
    elif config.default_model:
        subject, how = "model (none named)", f"the default model {config.default_model}"
    else:
        subject, how = "model (none named)", f"kithost's fallback {fallback}"
    if named in config.aliases:
        how = f"alias → {target}" if requested else f"{how}, alias → {target}"
    if config.reaches_openai:
        return Finding(subject, "runs_on_openai", "" if how == "passed as is" else how)
    if _OPENAI_NAME.match(target):
        remedy = f"`KITHOST_MODEL_ALIASES={named}=<a model it serves>`"
        if not requested:
            remedy += " or `KITHOST_DEFAULT_MODEL`"
        return Finding(
            subject,
            "needs_setting",
            f"will fail on this provider unless {provider_label(config)} serves a model "
            f'named "{target}" ({how}); set {remedy}',
        )
    return Finding(subject, "local", how)


def _naming_provider(finding: Finding, label: str) -> Finding:
    if not finding.blocking:
        return finding
    detail = f"{finding.detail}; this server's model provider is {label}".lstrip("; ")
    return dataclasses.replace(finding, detail=detail)


def _reachable(agents: list[Agent[Any]]) -> list[Agent[Any]]:
    """``agents`` and every agent they hand off to, each once."""
    seen: dict[int, Agent[Any]] = {}
    pending = list(agents)
    while pending:
        agent = pending.pop(0)
        if id(agent) not in seen:
            seen[id(agent)] = agent
            pending.extend(h for h in agent.handoffs if isinstance(h, Agent))
    return list(seen.values())
