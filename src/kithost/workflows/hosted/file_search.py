"""``FileSearchTool`` off OpenAI: a function tool named ``file_search`` on kithost's vector stores.

The model sees a tool under the hosted tool's name that takes a query and answers with the
best passages of the stores the export names (``vector_store_ids``), each with its file name
and score; ``max_num_results``, ``filters`` (attribute filters) and ``ranking_options`` are
honoured as OpenAI honours them. Every file the model was given becomes a ``FileSource`` of
the answer that follows, with the passage quoted (see ``sources``).

The stores are kithost's own, under the hosted ids: ``kithost import --vector-stores`` makes
them and ``kithost vector-stores add`` fills them. A store that does not exist here, or a
search that fails, is said to the model, which answers without it; the log says which.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Protocol

from agents import FileSearchTool, FunctionTool, Tool
from agents.tool_context import ToolContext
from chatkit.types import FileSource

from kithost.core.errors import KithostError
from kithost.retrieval.models import SearchHit, SearchMode
from kithost.workflows.capabilities import Finding
from kithost.workflows.hosted import tool_subject
from kithost.workflows.hosted.sources import record_sources

log = logging.getLogger("kithost.workflows.file_search")

# OpenAI's default for the file_search tool; 1 … 50 allowed.
DEFAULT_RESULTS = 10
MAX_RESULTS = 50
# How much of a passage the chat's source list quotes.
QUOTE_CHARS = 600
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")

DESCRIPTION = (
    "Search the files of this assistant's knowledge base for passages relevant to a query. "
    "Returns the best passages with the name of the file each comes from; answer from them "
    "and name the files you rely on."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for in the files."},
    },
    "required": ["query"],
    "additionalProperties": False,
}


class FileSearcher(Protocol):
    """What the tool needs of ``Retrieval``."""

    @property
    def search_mode(self) -> SearchMode: ...

    async def search(
        self,
        store_ids: list[str],
        query: str | list[str],
        max_num_results: int = 10,
        filters: dict[str, Any] | None = None,
        ranking_options: dict[str, Any] | None = None,
    ) -> list[SearchHit]: ...


class FileSearchAdapter:
    """Judges and localizes ``FileSearchTool`` with kithost's vector stores."""

    def __init__(self, searcher: FileSearcher | None, mode: SearchMode | None = None) -> None:
        """``searcher``: None where only findings are wanted (``workflows check``)."""
        self.searcher = searcher
        self.mode = mode or (searcher.search_mode if searcher is not None else None)

    def handles(self, tool: Tool) -> bool:
        return isinstance(tool, FileSearchTool)

    def finding(self, tool: Tool, passthrough: bool) -> Finding:
        subject = tool_subject(tool)
        if passthrough:
            return Finding(subject, "runs_on_openai")
        assert isinstance(tool, FileSearchTool)
        stores = ", ".join(tool.vector_store_ids) or "no vector store"
        how = {
            "hybrid": "hybrid search",
            "keyword": "keyword search; set KITHOST_EMBEDDING_MODEL for hybrid",
            None: "",
        }[self.mode]
        detail = f"searches kithost's vector stores {stores}"
        return Finding(subject, "local", f"{detail} ({how})" if how else detail)

    def localize(self, tool: Tool) -> Tool:
        assert isinstance(tool, FileSearchTool)
        search = LocalFileSearch(self.searcher, tool)
        return FunctionTool(
            name=tool.name,
            description=DESCRIPTION,
            params_json_schema=PARAMETERS,
            on_invoke_tool=search.invoke,
            strict_json_schema=True,
        )


class LocalFileSearch:
    """One export's ``FileSearchTool`` settings, run on kithost's vector stores."""

    def __init__(self, searcher: FileSearcher | None, tool: FileSearchTool) -> None:
        self.searcher = searcher
        self.store_ids = list(dict.fromkeys(tool.vector_store_ids))
        wanted = tool.max_num_results or DEFAULT_RESULTS
        self.max_results = max(1, min(MAX_RESULTS, wanted))
        self.filters = _as_dict(tool.filters)
        self.ranking_options = _as_dict(tool.ranking_options)

    async def invoke(self, _context: ToolContext[Any], arguments: str) -> str:
        text = _query_text(arguments)
        if not text:
            return "File search needs a query: call file_search with the words to look for."
        if self.searcher is None or not self.store_ids:
            return "File search is unavailable on this server. Answer without it, and say so."
        try:
            hits = await self.searcher.search(
                self.store_ids, text, self.max_results, self.filters, self.ranking_options
            )
        except KithostError as failure:
            # A store missing here (not imported or added yet), or a filter it refuses.
            log.warning("file search in %s failed: %s", ", ".join(self.store_ids), failure)
            return (
                f"File search failed: {failure}. Answer without it, and say that the "
                "documents could not be searched."
            )
        record_sources(file_sources(hits, text))
        return render_results(text, hits)


def file_sources(hits: list[SearchHit], query: str) -> list[FileSource]:
    """One source per file, quoting the part of its best chunk (hits come best first) that
    is about the query."""
    sources: dict[str, FileSource] = {}
    for hit in hits:
        if hit.file_id in sources:
            continue
        sources[hit.file_id] = FileSource(
            filename=hit.filename,
            title=hit.filename,
            description=quote(" ".join(hit.chunks), query),
        )
    return list(sources.values())


def render_results(query: str, hits: list[SearchHit]) -> str:
    """What the model reads: one numbered block per passage."""
    if not hits:
        return f"No passages in the files match {json.dumps(query)}."
    lines = [f"File search results for {json.dumps(query)}:"]
    for number, hit in enumerate(hits, 1):
        lines.append(f"\n[{number}] {hit.filename} (score {hit.score:.2f})")
        lines.extend(chunk.strip() for chunk in hit.chunks)
    return "\n".join(lines)


def quote(chunk: str, query: str, limit: int = QUOTE_CHARS) -> str:
    """At most ``limit`` characters of ``chunk``: the sentence that shares the most words with
    the query, then its neighbours while they fit (a chunk is 800 tokens: too long to quote)."""
    compact = " ".join(chunk.split())
    if len(compact) <= limit:
        return compact
    sentences = _SENTENCE_END.split(compact)
    wanted = {word for word in _WORD.findall(query.lower()) if len(word) > 2}
    overlap = [len(wanted & set(_WORD.findall(s.lower()))) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    first = last = best
    size = len(sentences[best])
    while True:
        grown = False
        for candidate in (last + 1, first - 1):  # the following sentence first
            if 0 <= candidate < len(sentences) and not first <= candidate <= last:
                if size + 1 + len(sentences[candidate]) > limit:
                    continue
                size += 1 + len(sentences[candidate])
                first, last = min(first, candidate), max(last, candidate)
                grown = True
        if not grown:
            break
    text = " ".join(sentences[first : last + 1])
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0]
    prefix = "…" if first > 0 else ""
    suffix = "…" if last < len(sentences) - 1 or len(text) < size else ""
    return f"{prefix}{text}{suffix}"


def _as_dict(value: Any) -> dict[str, Any] | None:
    """An export's filters or ranking options: SDK models or plain dicts, as written."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        dumped = value.model_dump(exclude_none=True)
        return dumped if isinstance(dumped, dict) else None
    return dict(value) if isinstance(value, dict) else None


def _query_text(arguments: str) -> str:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return ""
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return " ".join(query.split()) if isinstance(query, str) else ""
