"""Hosted tools (``HostedMCPTool``, ``WebSearchTool``, ``FileSearchTool``, …) on every provider.

OpenAI runs these tools itself, inside its Responses API. On that provider they pass through
unchanged. On any other provider each agent is given, per run, a copy of itself whose hosted
tools are swapped for local equivalents under the same names, so the export stays as written;
a tool with no local equivalent makes the workflow unavailable, and says so before any session
is created (``capabilities.Finding``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from agents import Agent, FunctionTool, Tool
from agents.mcp import MCPServer

from kithost.workflows.capabilities import Finding


class HostedToolAdapter(Protocol):
    """Knows one kind of hosted tool: what it needs here, and its local equivalent."""

    def handles(self, tool: Tool) -> bool:
        """Whether this adapter is the one for ``tool``."""
        ...

    def finding(self, tool: Tool, passthrough: bool) -> Finding:
        """What ``tool`` needs on this server (``passthrough``: the provider is OpenAI's)."""
        ...

    def localize(self, tool: Tool) -> Tool | MCPServer:
        """The local equivalent of ``tool``, under the same name (never called when the
        finding blocks or the provider runs hosted tools). An MCP server (for
        ``HostedMCPTool``) joins the agent's ``mcp_servers``: its tools keep their own names."""
        ...


class HostedTools:
    """Judges and localizes every hosted tool of an agent with the adapters it is given."""

    def __init__(self, adapters: Sequence[HostedToolAdapter], *, passthrough: bool):
        self.adapters = list(adapters)
        self.passthrough = passthrough

    def adapter_for(self, tool: Tool) -> HostedToolAdapter | None:
        return next((adapter for adapter in self.adapters if adapter.handles(tool)), None)

    def findings(self, agents: Iterable[Agent[Any]]) -> list[Finding]:
        """One finding per hosted tool of ``agents`` (and the agents they hand off to)."""
        findings: list[Finding] = []
        for agent in _with_handoffs(agents):
            for tool in agent.tools:
                if isinstance(tool, FunctionTool):
                    continue
                adapter = self.adapter_for(tool)
                if adapter is None:
                    findings.append(_unknown(tool))
                else:
                    findings.append(adapter.finding(tool, self.passthrough))
        return _unique(findings)

    def prepare(self, agent: Agent[Any]) -> Agent[Any]:
        """``agent`` as it runs on this provider: unchanged on OpenAI, else with local tools."""
        if self.passthrough:
            return agent
        return self._localized(agent, {})

    def _localized(self, agent: Agent[Any], done: dict[int, Agent[Any]]) -> Agent[Any]:
        if id(agent) in done:
            return done[id(agent)]
        if not any(not isinstance(tool, FunctionTool) for tool in agent.tools) and not any(
            isinstance(handoff, Agent) for handoff in agent.handoffs
        ):
            return agent
        copy = agent.clone()
        done[id(agent)] = copy
        local = [self._local_tool(tool) for tool in agent.tools]
        copy.tools = [tool for tool in local if not isinstance(tool, MCPServer)]
        copy.mcp_servers = [
            *agent.mcp_servers,
            *(server for server in local if isinstance(server, MCPServer)),
        ]
        copy.handoffs = [
            self._localized(handoff, done) if isinstance(handoff, Agent) else handoff
            for handoff in agent.handoffs
        ]
        return copy

    def _local_tool(self, tool: Tool) -> Tool | MCPServer:
        if isinstance(tool, FunctionTool):
            return tool
        adapter = self.adapter_for(tool)
        if adapter is None or adapter.finding(tool, passthrough=False).blocking:
            # sessions.create refuses such workflows; reaching here means the folder changed.
            raise UnsupportedHostedTool(tool)
        return adapter.localize(tool)


class UnsupportedHostedTool(RuntimeError):
    """A hosted tool with no local equivalent reached a run (a configuration error)."""

    def __init__(self, tool: Tool):
        super().__init__(
            f"{type(tool).__name__} is not available on this model provider; "
            "`kithost workflows check` explains what it needs."
        )
        self.tool_type = type(tool).__name__


def tool_subject(tool: Tool) -> str:
    """How findings name a tool: its class, and its label where it has one."""
    label = getattr(tool, "name", None)
    kind = type(tool).__name__
    return f'{kind} "{label}"' if isinstance(label, str) and label else kind


def _unknown(tool: Tool) -> Finding:
    return Finding(
        tool_subject(tool),
        "unavailable",
        "a hosted tool kithost has no local equivalent for",
    )


def _with_handoffs(agents: Iterable[Agent[Any]]) -> list[Agent[Any]]:
    seen: dict[int, Agent[Any]] = {}
    pending = list(agents)
    while pending:
        agent = pending.pop()
        if id(agent) in seen:
            continue
        seen[id(agent)] = agent
        pending.extend(handoff for handoff in agent.handoffs if isinstance(handoff, Agent))
    return list(seen.values())


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
