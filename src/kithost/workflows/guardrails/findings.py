"""What ``workflows check`` says about each guardrail an export configures.

The export's source is read for guardrail configurations as Agent Builder writes them (a dict
literal ``{"guardrails": [{"name": …, "config": {…}}, …]}``, anywhere in the file, pipeline
stages included), so guardrails configured inside ``run_workflow`` count too. One finding per
guardrail name:

- LLM checks (Jailbreak, NSFW Text, …): "local equivalent", through the provider, with the
  model each asks for and what it resolves to;
- Moderation: "runs on OpenAI" where the provider is OpenAI, else "local equivalent (LLM
  check …)";
- Contains PII: "local equivalent" with its spaCy model installed, else "needs setup" naming
  the model and the command that installs it;
- Hallucination Detection: it searches an OpenAI vector store, so only on OpenAI's Responses API;
- pattern checks (Keyword Filter, URL Filter, …): "local equivalent".
"""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from kithost.workflows.capabilities import Finding
from kithost.workflows.guardrails.client import provider_is_openai
from kithost.workflows.guardrails.pii import (
    SPACY_MODEL,
    missing_model_reason,
    spacy_model_installed,
    warm_up,
)
from kithost.workflows.providers import ProviderConfig

if TYPE_CHECKING:
    from kithost.workflows.agent_services import AgentServices


def guardrail_findings(module: ModuleType, services: AgentServices) -> list[Finding]:
    """The findings analyser for a loaded export (its file is read again for its source)."""
    path = getattr(module, "__file__", None)
    if not path:
        return []
    return findings_for_source(Path(path).read_text(encoding="utf-8"), services.provider.config)


def findings_for_source(source: str, config: ProviderConfig) -> list[Finding]:
    configured = configured_guardrails(source)
    if not configured:
        return []
    engines = _engines()
    findings = []
    for name, models in configured.items():
        findings.append(_finding(name, engines.get(name), models, config))
        if name == "Contains PII" and spacy_model_installed():
            warm_up()
    return findings


def configured_guardrails(source: str) -> dict[str, list[str]]:
    """Each guardrail name the source configures, with the models its configs name."""
    found: dict[str, list[str]] = {}
    with contextlib.suppress(SyntaxError):  # the loader reports syntax errors itself
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Dict):
                for entry in _guardrail_entries(node):
                    name, config = entry
                    models = found.setdefault(name, [])
                    model = config.get("model")
                    if isinstance(model, str) and model not in models:
                        models.append(model)
    return found


def _guardrail_entries(node: ast.Dict) -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for key, value in zip(node.keys, node.values, strict=True):
        if not (_constant(key) == "guardrails" and isinstance(value, ast.List | ast.Tuple)):
            continue
        for element in value.elts:
            if not isinstance(element, ast.Dict):
                continue
            fields = {_constant(k): v for k, v in zip(element.keys, element.values, strict=True)}
            name = _constant(fields.get("name"))
            if isinstance(name, str):
                entries.append((name, _literal(fields.get("config"))))
    return entries


def _constant(node: ast.expr | None) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


def _literal(node: ast.expr | None) -> dict[str, Any]:
    try:
        value = ast.literal_eval(node) if node is not None else {}
    except ValueError:  # not a literal (a variable, a call): its model is unknown
        return {}
    return value if isinstance(value, dict) else {}


def _engines() -> dict[str, str]:
    """Each guardrail the installed openai-guardrails knows, with how it checks."""
    import guardrails  # registers the checks; only exports that use them pay

    return {
        spec.name: spec.metadata.engine if spec.metadata and spec.metadata.engine else ""
        for spec in guardrails.default_spec_registry.get_all()
    }


def _finding(name: str, engine: str | None, models: list[str], config: ProviderConfig) -> Finding:
    subject = f'guardrail "{name}"'
    through = "the Responses API" if config.api == "responses" else "Chat Completions"
    if engine is None:
        return Finding(subject, "unavailable", "openai-guardrails has no guardrail of this name")
    if name == "Moderation":
        if provider_is_openai(config):
            return Finding(subject, "runs_on_openai", "OpenAI's moderation endpoint")
        model = config.aliases.get("omni-moderation-latest") or config.model_name(None)
        return Finding(subject, "local", f"LLM check with {model} through {through}")
    if name == "Contains PII":
        if spacy_model_installed():
            return Finding(subject, "local", f"Presidio with the spaCy model {SPACY_MODEL}")
        return Finding(
            subject,
            "needs_setting",
            f"{missing_model_reason()}; until then it is skipped in masking mode (the text "
            "passes unmasked) and fails in blocking mode",
        )
    if engine == "FileSearch":
        if provider_is_openai(config) and config.api == "responses":
            return Finding(subject, "runs_on_openai", "searches the OpenAI vector store it names")
        return Finding(
            subject,
            "unavailable",
            "it searches an OpenAI vector store (knowledge_source), which only OpenAI's "
            "Responses API can do",
        )
    if engine == "LLM":
        named = ", ".join(_resolved(model, config) for model in models) or "its model"
        return Finding(subject, "local", f"LLM check with {named} through {through}")
    return Finding(subject, "local", "a pattern check, in kithost")


def _resolved(model: str, config: ProviderConfig) -> str:
    target = config.model_name(model)
    return model if target == model else f"{model} → {target}"
