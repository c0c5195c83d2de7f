"""Model providers: OpenAI's Responses API, or any OpenAI-compatible Chat Completions server.

Exports name OpenAI models (``gpt-4.1``); ``KITHOST_MODEL_ALIASES`` maps those names to the
provider's own (``gpt-4.1=llama3.1:8b``), so an export runs unmodified on a local model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from agents.models.interface import Model, ModelProvider
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from kithost.settings import Settings

ModelApi = Literal["responses", "chat_completions"]


def parse_aliases(text: str | None) -> dict[str, str]:
    """``a=b,c=d`` → ``{"a": "b", "c": "d"}``; blanks ignored, the last mapping wins."""
    aliases: dict[str, str] = {}
    for pair in (text or "").split(","):
        name, sep, target = pair.partition("=")
        if sep and name.strip() and target.strip():
            aliases[name.strip()] = target.strip()
    return aliases


@dataclass(frozen=True)
class ProviderConfig:
    api_key: str | None = None
    base_url: str | None = None
    api: ModelApi = "responses"
    aliases: dict[str, str] = field(default_factory=dict)
    default_model: str | None = None
    timeout_seconds: float = 120.0
    max_retries: int = 2
    hosted_tools: Literal["auto", "passthrough", "local"] = "auto"

    @property
    def configured(self) -> bool:
        """A provider is configured by a key (OpenAI) or a base URL (a compatible server)."""
        return bool(self.api_key or self.base_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig:
        return cls(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            api=settings.model_api,
            aliases=parse_aliases(settings.model_aliases),
            default_model=settings.default_model,
            timeout_seconds=settings.model_timeout,
            hosted_tools=settings.hosted_tools,
        )

    @property
    def reaches_openai(self) -> bool:
        """Whether requests reach OpenAI itself, or (``KITHOST_HOSTED_TOOLS=passthrough``) a
        gateway in front of it: the one question hosted tools, moderation and model-name
        findings all ask."""
        if self.hosted_tools == "passthrough":
            return True
        if not self.api_key:
            return False
        return self.base_url is None or urlsplit(self.base_url).hostname == "api.openai.com"

    @property
    def runs_hosted_tools(self) -> bool:
        """Whether hosted tools go to the provider: OpenAI's own Responses API runs them itself.

        A compatible server that speaks Responses is not OpenAI: hosted tools sent there would
        be refused or ignored, so kithost runs its local equivalents instead, unless
        ``KITHOST_HOSTED_TOOLS=passthrough`` says the server is a gateway in front of OpenAI.
        Chat Completions has no hosted tools at all.
        """
        return self.api == "responses" and self.hosted_tools != "local" and self.reaches_openai

    def model_name(self, requested: str | None) -> str:
        name = requested or self.default_model or "gpt-4.1-mini"
        return self.aliases.get(name, name)


class NoProviderConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "No model provider is configured: set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL "
            "(with KITHOST_MODEL_API=chat_completions) for an OpenAI-compatible server."
        )


class KithostModelProvider(ModelProvider):
    """Resolves an agent's model name through the aliases to the configured provider."""

    def __init__(self, config: ProviderConfig):
        self.config = config
        self.client = AsyncOpenAI(
            # A compatible server often needs no key, but the client insists on one.
            api_key=config.api_key or "unused",
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )
        self._inner = OpenAIProvider(
            openai_client=self.client, use_responses=config.api == "responses"
        )

    def get_model(self, model_name: str | None) -> Model:
        if not self.config.configured:
            raise NoProviderConfigured()
        return self._inner.get_model(self.config.model_name(model_name))

    async def aclose(self) -> None:
        await self._inner.aclose()
        await self.client.close()
