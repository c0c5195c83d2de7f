"""The hosted-tool adapters this server has, built from its settings."""

from __future__ import annotations

from kithost.settings import Settings
from kithost.workflows.hosted import HostedToolAdapter, HostedTools
from kithost.workflows.hosted.unsupported import OpenAIOnlyTools
from kithost.workflows.providers import ProviderConfig


def hosted_tools(settings: Settings, provider: ProviderConfig) -> HostedTools:
    adapters: list[HostedToolAdapter] = [OpenAIOnlyTools()]
    return HostedTools(adapters, passthrough=provider.runs_hosted_tools)
