"""A ``HostedMCPTool``'s ``tool_config``, read the way OpenAI's Responses API reads it.

Agent Builder writes ``server_label``, ``server_url``, ``authorization``, ``headers``,
``allowed_tools`` (a list, or ``{"tool_names": [...], "read_only": bool}``),
``require_approval`` (``"always"``, ``"never"`` or ``{"always": {...}, "never": {...}}``) and
``server_description``; ``connector_id`` names one of OpenAI's own connectors instead of a URL.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from agents import HostedMCPTool
from mcp import Tool as MCPTool

Transport = Literal["streamable_http", "sse"]
TRANSPORT_WORDS: dict[Transport, str] = {"streamable_http": "streamable HTTP", "sse": "SSE"}


@dataclass(frozen=True)
class ToolSelection:
    """Which of a server's tools a rule names: by name, and/or those marked read-only."""

    names: frozenset[str] | None = None  # None: no name list
    read_only: bool = False

    def matches(self, tool: MCPTool) -> bool:
        if self.names is not None and tool.name in self.names:
            return True
        return self.read_only and bool(tool.annotations and tool.annotations.read_only_hint)

    @property
    def empty(self) -> bool:
        return not self.names and not self.read_only

    @classmethod
    def parse(cls, value: Any) -> ToolSelection:
        """``["a", "b"]`` or ``{"tool_names": ["a"], "read_only": true}``."""
        if isinstance(value, list | tuple):
            return cls(frozenset(str(name) for name in value))
        if isinstance(value, Mapping):
            names = value.get("tool_names")
            return cls(
                frozenset(str(name) for name in names) if isinstance(names, list) else None,
                bool(value.get("read_only")),
            )
        return cls()


@dataclass(frozen=True)
class ApprovalPolicy:
    """Which calls ask the user first.

    OpenAI asks by default, so does kithost. With a filter object, the tools it lists under
    ``never`` run and those under ``always`` ask; any other tool asks, unless the object only
    lists ``always`` (then only those ask).
    """

    always: ToolSelection = ToolSelection()
    never: ToolSelection = ToolSelection()
    otherwise: bool = True

    def needs_approval(self, tool: MCPTool) -> bool:
        if self.never.matches(tool):
            return False
        if self.always.matches(tool):
            return True
        return self.otherwise

    def describe(self) -> str:
        if not self.otherwise and self.always.empty:
            return "no call asks for approval"
        if self.otherwise and self.never.empty and self.always.empty:
            return "every call asks the user for approval in the chat"
        return "some calls ask the user for approval in the chat"

    @classmethod
    def parse(cls, value: Any) -> ApprovalPolicy:
        if value == "never":
            return cls(otherwise=False)
        if isinstance(value, Mapping):
            always = ToolSelection.parse(value.get("always"))
            never = ToolSelection.parse(value.get("never"))
            only_always = "always" in value and "never" not in value
            return cls(always, never, otherwise=not only_always)
        return cls()  # "always", absent, or unreadable: ask, as OpenAI does


@dataclass(frozen=True)
class McpConfig:
    label: str
    url: str | None
    connector_id: str | None
    headers: Mapping[str, str]
    """Sent on every request; ``authorization`` is in it as ``Authorization: Bearer …``."""
    allowed: ToolSelection
    approval: ApprovalPolicy
    description: str | None

    @classmethod
    def of(cls, tool: HostedMCPTool) -> McpConfig:
        config: Mapping[str, Any] = dict(tool.tool_config)
        headers = {
            str(name): str(value)
            for name, value in (config.get("headers") or {}).items()
            if value is not None
        }
        authorization = config.get("authorization")
        if authorization:
            # As OpenAI sends it; the dedicated field wins over a header of the same name.
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {authorization}"
        url = config.get("server_url")
        description = config.get("server_description")
        return cls(
            label=str(config.get("server_label") or "mcp"),
            url=str(url) if url else None,
            connector_id=str(config["connector_id"]) if config.get("connector_id") else None,
            headers=headers,
            allowed=ToolSelection.parse(config.get("allowed_tools")),
            approval=ApprovalPolicy.parse(config.get("require_approval")),
            description=str(description) if description else None,
        )

    @property
    def transport(self) -> Transport:
        """SSE when the URL's path ends in ``/sse`` (as OpenAI decides), else streamable HTTP."""
        path = urlsplit(self.url or "").path.rstrip("/")
        return "sse" if path.endswith("/sse") else "streamable_http"

    @property
    def url_problem(self) -> str | None:
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "server_url is not an http(s) URL"
        return None

    def allows(self, tool: MCPTool) -> bool:
        """``allowed_tools``; an empty or absent list allows every tool the server has."""
        return self.allowed.empty or self.allowed.matches(tool)

    @property
    def cache_key(self) -> str:
        """Identifies the server and the credentials used (hashed: no secret kept as a key)."""
        material = json.dumps([self.transport, self.url, sorted(self.headers.items())])
        return hashlib.sha256(material.encode()).hexdigest()

    @property
    def tool_name(self) -> str:
        """The label as a function-tool name (for the stand-in of an unreachable server)."""
        return re.sub(r"[^A-Za-z0-9_-]", "_", self.label)[:64] or "mcp_server"
