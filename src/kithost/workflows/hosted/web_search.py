"""``WebSearchTool`` off OpenAI: a function tool named ``web_search`` on a search backend.

The model sees a tool under the hosted tool's name that takes a query and answers with the
title, URL and snippet of each result; the results become the sources of the answer (see
``sources``). What maps from the export's tool: ``search_context_size`` sets the number of
results, ``filters.allowed_domains`` restricts them, ``user_location.country`` is Brave's
region hint. With no backend configured the tool still answers, saying web search is
unavailable here, so the conversation goes on.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agents import FunctionTool, Tool, WebSearchTool
from agents.tool_context import ToolContext
from chatkit.types import URLSource

from kithost.workflows.capabilities import Finding
from kithost.workflows.hosted import tool_subject
from kithost.workflows.hosted.search_backends import (
    SearchBackend,
    SearchFailed,
    SearchQuery,
    SearchResult,
)
from kithost.workflows.hosted.sources import record_sources

log = logging.getLogger("kithost.workflows.web_search")

RESULTS_PER_CONTEXT_SIZE = {"low": 3, "medium": 5, "high": 10}
NEEDS = (
    "needs KITHOST_WEB_SEARCH_URL (a SearXNG instance), KITHOST_TAVILY_API_KEY or "
    "KITHOST_BRAVE_API_KEY; until one is set, the model is told web search is unavailable"
)
UNAVAILABLE = (
    "Web search is unavailable on this server (no search backend is configured). "
    "Answer from what you know, and say that you could not search the web."
)
DESCRIPTION = (
    "Search the web for current information. Returns the title, URL and a snippet of each "
    "result; cite the URLs you rely on."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to search the web for."}},
    "required": ["query"],
    "additionalProperties": False,
}


class WebSearchAdapter:
    """Judges and localizes ``WebSearchTool`` with the configured backend (or none)."""

    def __init__(self, backend: SearchBackend | None):
        self.backend = backend

    def handles(self, tool: Tool) -> bool:
        return isinstance(tool, WebSearchTool)

    def finding(self, tool: Tool, passthrough: bool) -> Finding:
        subject = tool_subject(tool)
        if passthrough:
            return Finding(subject, "runs_on_openai")
        if self.backend is None:
            return Finding(subject, "needs_setting", NEEDS)
        return Finding(subject, "local", f"searches with {self.backend.label}")

    def localize(self, tool: Tool) -> Tool:
        assert isinstance(tool, WebSearchTool)
        search = LocalWebSearch(self.backend, tool)
        return FunctionTool(
            name=tool.name,
            description=DESCRIPTION,
            params_json_schema=PARAMETERS,
            on_invoke_tool=search.invoke,
            strict_json_schema=True,
        )


class LocalWebSearch:
    """One export's ``WebSearchTool`` settings, run on a backend."""

    def __init__(self, backend: SearchBackend | None, tool: WebSearchTool):
        self.backend = backend
        self.max_results = RESULTS_PER_CONTEXT_SIZE.get(tool.search_context_size, 5)
        filters = tool.filters
        domains = filters.allowed_domains if filters is not None else None
        self.allowed_domains = tuple(_domain(d) for d in domains or () if _domain(d))
        location: Any = tool.user_location or {}
        country = location.get("country") if isinstance(location, dict) else None
        self.country = country.upper() if isinstance(country, str) and country else None

    async def invoke(self, _context: ToolContext[Any], arguments: str) -> str:
        if self.backend is None:
            return UNAVAILABLE
        text = _query_text(arguments)
        if not text:
            return "Web search needs a query: call web_search with the words to search for."
        query = SearchQuery(text, self.max_results, self.allowed_domains, self.country)
        try:
            results = await self.backend.search(query)
        except SearchFailed as failure:
            # The backend's name and the cause; its URL's credentials and keys never.
            log.warning("web search failed on %s: %s", self.backend.label, failure.reason)
            return (
                f"Web search failed: the search service {failure.reason}. Answer without it, "
                "and say that the web search did not work."
            )
        record_sources([URLSource(url=r.url, title=r.title) for r in results])
        return render_results(text, results)


def render_results(query: str, results: list[SearchResult]) -> str:
    """What the model reads: one numbered block per result."""
    if not results:
        return f"No web results for {json.dumps(query)}."
    lines = [f"Web results for {json.dumps(query)}:"]
    for number, result in enumerate(results, 1):
        lines.append(f"\n[{number}] {result.title}\nURL: {result.url}")
        if result.snippet:
            lines.append(result.snippet)
    return "\n".join(lines)


def _query_text(arguments: str) -> str:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return ""
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return " ".join(query.split()) if isinstance(query, str) else ""


def _domain(value: str) -> str:
    """``https://Docs.Example.com/`` → ``docs.example.com`` (exports write either)."""
    text = value.strip().lower()
    text = text.split("://", 1)[-1]
    return text.split("/", 1)[0]
