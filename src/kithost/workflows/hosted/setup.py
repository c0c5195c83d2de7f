"""The hosted-tool adapters this server has, built from its settings."""

from __future__ import annotations

from kithost.retrieval.models import SearchMode
from kithost.settings import Settings
from kithost.workflows.approvals import Approvals
from kithost.workflows.hosted import HostedToolAdapter, HostedTools
from kithost.workflows.hosted.file_search import FileSearchAdapter, FileSearcher
from kithost.workflows.hosted.mcp import HostedMCPAdapter, ToolListCache
from kithost.workflows.hosted.search_backends import backend_from_settings
from kithost.workflows.hosted.unsupported import OpenAIOnlyTools
from kithost.workflows.hosted.web_search import WebSearchAdapter
from kithost.workflows.providers import ProviderConfig


def hosted_tools(
    settings: Settings,
    provider: ProviderConfig,
    approvals: Approvals | None = None,
    files: FileSearcher | None = None,
) -> HostedTools:
    """``approvals``: where MCP calls wait for the user (the conversation server answers them);
    ``files``: kithost's vector stores (None where only findings are wanted)."""
    mode: SearchMode = "hybrid" if settings.embedding_model else "keyword"
    adapters: list[HostedToolAdapter] = [
        OpenAIOnlyTools(),
        WebSearchAdapter(backend_from_settings(settings)),
        FileSearchAdapter(files, files.search_mode if files is not None else mode),
        HostedMCPAdapter(
            ToolListCache(settings.mcp_tools_cache_seconds),
            approvals if approvals is not None else Approvals(settings.mcp_approval_timeout),
        ),
    ]
    return HostedTools(adapters, passthrough=provider.runs_hosted_tools)
