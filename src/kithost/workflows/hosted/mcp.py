"""``HostedMCPTool`` on every provider.

On OpenAI's Responses API the tool passes through: OpenAI connects to the MCP server. Anywhere
else kithost connects to it itself, through the Agents SDK's MCP clients (streamable HTTP, or
SSE when the URL ends in ``/sse``), sending the export's ``headers`` and its ``authorization``
as ``Authorization: Bearer …``. The server's tools become function tools under their own names,
as OpenAI exposes them, filtered by ``allowed_tools``; calls that ``require_approval`` ask the
user in the chat first (``workflows.approvals``).

Connections never outlive the task that opened them (anyio's cancel scopes must be left in the
task that entered them): each listing and each call opens its own. The tool list is cached
briefly per server and credentials, so a turn does not list tools before every model call. A
server that cannot be reached costs the model a tool error result and the operator a log line
(server label and reason, never a header), not the turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents import HostedMCPTool, Tool
from agents.exceptions import UserError
from agents.mcp import MCPServer, MCPServerSse, MCPServerStreamableHttp
from agents.mcp._compat import (
    HTTP_CONNECT_ERROR_TYPES,
    HTTP_STATUS_ERROR_TYPES,
    HTTP_TIMEOUT_ERROR_TYPES,
    MCPError,
)
from mcp import Tool as MCPTool
from mcp.types import CallToolResult, GetPromptResult, ListPromptsResult, TextContent

from kithost.workflows.approval_widget import ApprovalRequest
from kithost.workflows.approvals import NOT_RUN, Approvals
from kithost.workflows.capabilities import Finding
from kithost.workflows.hosted.mcp_config import TRANSPORT_WORDS, McpConfig

log = logging.getLogger("kithost.workflows")

DEFAULT_CACHE_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 15.0
CALL_TIMEOUT_SECONDS = 120.0


@dataclass
class ToolListCache:
    """Each server's tool list, kept ``ttl_seconds`` per server URL and credentials."""

    ttl_seconds: float = DEFAULT_CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, list[MCPTool]]] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get(self, key: str, fetch: Callable[[], Awaitable[list[MCPTool]]]) -> list[MCPTool]:
        async with self._locks.setdefault(key, asyncio.Lock()):  # one listing at a time
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self.clock():
                tools = await fetch()
                entry = (self.clock() + self.ttl_seconds, tools)
                if self.ttl_seconds > 0:
                    self._entries[key] = entry
        return [tool.model_copy(deep=True) for tool in entry[1]]


class LocalMcpServer(MCPServer):
    """One ``HostedMCPTool``'s server, as kithost reaches it (given to the agent's copy)."""

    def __init__(self, config: McpConfig, cache: ToolListCache, approvals: Approvals):
        # No `require_approval` here: the SDK would interrupt the run; kithost asks in the chat.
        super().__init__(use_structured_content=False)
        self.config = config
        self._cache = cache
        self._approvals = approvals
        self._offered: dict[str, MCPTool] = {}
        self._unreachable: str | None = None

    @property
    def name(self) -> str:
        return self.config.label  # what spans and SDK messages show: never the URL

    async def connect(self) -> None:
        """Nothing to hold open: each request connects (see the module docstring)."""

    async def cleanup(self) -> None:
        """Nothing is held open."""

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        try:
            tools = await self._cache.get(self.config.cache_key, self._fetch_tools)
        except Exception as error:
            reason = failure_reason(error)
            if self._unreachable is None:  # once per run, not once per model call
                log.warning(
                    "MCP server %r could not list its tools: %s; the model is told",
                    self.config.label,
                    reason,
                )
            self._unreachable = reason
            self._offered = {}
            return [self._stand_in()]
        self._unreachable = None
        self._offered = {tool.name: tool for tool in tools if self.config.allows(tool)}
        return list(self._offered.values())

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        tool = self._offered.get(tool_name)
        if tool is None:
            if self._unreachable is not None:
                return _error_result(
                    f"The MCP server '{self.config.label}' could not be reached "
                    f"({self._unreachable}), so its tools cannot be used right now."
                )
            return _error_result(f"The MCP server '{self.config.label}' offers no {tool_name}.")
        if self.config.approval.needs_approval(tool):
            request = ApprovalRequest(
                self.config.label, tool_name, dict(arguments or {}), self.config.description
            )
            decision = await self._approvals.ask(request)
            if decision != "approved":
                return _error_result(NOT_RUN[decision])
        try:
            async with self._connection(CALL_TIMEOUT_SECONDS) as server:
                result: CallToolResult = await server.call_tool(tool_name, arguments, meta=meta)
                return result
        except Exception as error:
            reason = failure_reason(error)
            log.warning(
                "MCP server %r failed to run %s: %s; the model is told",
                self.config.label,
                tool_name,
                reason,
            )
            return _error_result(
                f"The MCP server '{self.config.label}' could not run {tool_name} ({reason})."
            )

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult(prompts=[])

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> GetPromptResult:
        raise UserError(f"The MCP server '{self.config.label}' has no prompts here.")

    async def _fetch_tools(self) -> list[MCPTool]:
        async with self._connection(CONNECT_TIMEOUT_SECONDS) as server:
            tools: list[MCPTool] = await server.list_tools()
            return tools

    def _connection(self, read_timeout: float) -> MCPServerSse | MCPServerStreamableHttp:
        """A fresh client for one request, entered and left by the task that makes it."""
        url = self.config.url
        assert url is not None  # the finding blocks tools without a URL
        headers = dict(self.config.headers)
        if self.config.transport == "sse":
            return MCPServerSse(
                {
                    "url": url,
                    "headers": headers,
                    "timeout": CONNECT_TIMEOUT_SECONDS,
                    "sse_read_timeout": read_timeout,
                },
                name=self.config.label,
                client_session_timeout_seconds=read_timeout,
            )
        return MCPServerStreamableHttp(
            {
                "url": url,
                "headers": headers,
                "timeout": CONNECT_TIMEOUT_SECONDS,
                "sse_read_timeout": read_timeout,
            },
            name=self.config.label,
            client_session_timeout_seconds=read_timeout,
        )

    def _stand_in(self) -> MCPTool:
        """Offered instead of the tools of a server that cannot be reached, so the model can
        learn why (by calling it) rather than not knowing the server exists."""
        about = f" ({self.config.description})" if self.config.description else ""
        return MCPTool(
            name=self.config.tool_name,
            description=(
                f"The MCP server '{self.config.label}'{about} cannot be reached right now, so "
                "its tools are unavailable. Calling this returns the error."
            ),
            input_schema={"type": "object", "properties": {}},
        )


class HostedMCPAdapter:
    """The hosted-tool adapter for ``HostedMCPTool``."""

    def __init__(self, cache: ToolListCache, approvals: Approvals):
        self.cache = cache
        self.approvals = approvals

    def handles(self, tool: Tool) -> bool:
        return isinstance(tool, HostedMCPTool)

    def finding(self, tool: Tool, passthrough: bool) -> Finding:
        assert isinstance(tool, HostedMCPTool)
        config = McpConfig.of(tool)
        subject = f'HostedMCPTool "{config.label}"'
        if passthrough:
            return Finding(subject, "runs_on_openai")
        if config.url is None:
            if config.connector_id:
                return Finding(
                    subject,
                    "unavailable",
                    "OpenAI connectors (connector_id) run only on OpenAI's Responses API; "
                    "give the MCP server's server_url instead to run it here",
                )
            return Finding(subject, "unavailable", "its tool_config has no server_url")
        if (problem := config.url_problem) is not None:
            return Finding(subject, "unavailable", problem)
        words = TRANSPORT_WORDS[config.transport]
        return Finding(
            subject,
            "local",
            f"kithost connects to the MCP server itself, over {words}; "
            f"{config.approval.describe()}",
        )

    def localize(self, tool: Tool) -> LocalMcpServer:
        assert isinstance(tool, HostedMCPTool)
        return LocalMcpServer(McpConfig.of(tool), self.cache, self.approvals)


def failure_reason(error: BaseException) -> str:
    """Why a request to an MCP server failed, in a few words that can hold no secret.

    Only the Agents SDK's own messages (which name the server by its label) are quoted;
    anything a server sent back, which could echo a header, is reduced to its kind.
    """
    leaf = _first_leaf(error)
    if isinstance(leaf, UserError):
        return str(leaf)
    if isinstance(leaf, HTTP_STATUS_ERROR_TYPES):
        status = getattr(getattr(leaf, "response", None), "status_code", None)
        return f"HTTP {status}" if status else "an HTTP error"
    if isinstance(leaf, (*HTTP_CONNECT_ERROR_TYPES, ConnectionError)):
        return "the connection failed"
    if isinstance(leaf, (*HTTP_TIMEOUT_ERROR_TYPES, TimeoutError)):
        return "it did not answer in time"
    if isinstance(leaf, MCPError):
        code = getattr(getattr(leaf, "error", None), "code", None)
        return f"MCP error {code}" if code is not None else "an MCP error"
    return type(leaf).__name__


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
