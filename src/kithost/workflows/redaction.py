"""Keep tool configurations, headers and keys out of error events, log lines and traces.

The Agents SDK puts a hosted tool's whole ``repr()`` into some of its messages ("Hosted tools are
not supported…, tool: HostedMCPTool(tool_config={… 'authorization': …})"), and a provider may
echo a key in its error body. ``redact`` cuts tool reprs down to the class name, masks values
that look like credentials, and replaces every secret kithost knows of (the provider key, the
headers and authorization of exported tools) wherever it appears.
"""

from __future__ import annotations

import re
import threading
import typing
from collections.abc import Iterable
from typing import Any

import agents
from agents import Agent, HostedMCPTool

MASK = "[redacted]"
# Shorter values would mask ordinary words ("test"); keys and tokens are longer.
MIN_SECRET_LENGTH = 8
MAX_MESSAGE_CHARS = 600

# Every SDK tool class, and any other class named like one (an adapter's, an export's).
_TOOL_CALL = re.compile(
    r"\b(" + "|".join(kind.__name__ for kind in typing.get_args(agents.Tool)) + r"|\w+Tool)\("
)
# Names of credential fields (not credentials).
_CREDENTIAL_FIELDS = "|".join(
    (
        "authorization",
        "api[_-]?key",
        "apikey",
        "access[_-]?token",
        "token",
        "secret",
        "client[_-]?secret",
        "password",
        "headers",
        "x-api-key",
        "cookie",
    )
)
# `'authorization': 'value'`, `api_key="value"`, `headers: {…}`, `token=abc` (values masked).
_KEY_VALUE = re.compile(rf"""(?i)(?<![\w-])['"]?(?:{_CREDENTIAL_FIELDS})['"]?\s*[:=]\s*""")
_BARE_VALUE = re.compile(r"[^\s,;)\]}]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_TOKENS = re.compile(r"\b(?:sk|ek|pk|rk)[-_][A-Za-z0-9_-]{12,}")

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``redact`` masks it wherever it appears."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _known.add(value)


def register_tool_secrets(agent_list: Iterable[Agent[Any]]) -> None:
    """Remember the credentials configured on ``agent_list``'s hosted MCP tools."""
    for agent in agent_list:
        for tool in agent.tools:
            if isinstance(tool, HostedMCPTool):
                config: Any = tool.tool_config
                register_secret(config.get("authorization"))
                for value in (config.get("headers") or {}).values():
                    register_secret(str(value))


def redact(text: str) -> str:
    """``text`` without tool configurations, credentials or known secrets; one line."""
    text = _without_tool_reprs(text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {MASK}", text)
    text = _mask_key_values(text)
    text = _TOKENS.sub(MASK, text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    return text


def redact_data(value: Any) -> Any:
    """``redact`` every string inside JSON-like ``value`` (a span's error, say)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


def _without_tool_reprs(text: str) -> str:
    """``HostedMCPTool(tool_config={…})`` → ``HostedMCPTool``."""
    out: list[str] = []
    position = 0
    while (match := _TOOL_CALL.search(text, position)) is not None:
        out.append(text[position : match.start()] + match.group(1))
        position = _closing(text, match.end() - 1)
    out.append(text[position:])
    return "".join(out)


def _mask_key_values(text: str) -> str:
    out: list[str] = []
    position = 0
    while (match := _KEY_VALUE.search(text, position)) is not None:
        start = match.end()
        if start >= len(text):
            break
        if text[start] in "'\"([{":
            end = _closing(text, start)
        else:
            bare = _BARE_VALUE.match(text, start)
            end = bare.end() if bare else start
        out.append(text[position:start] + (MASK if end > start else ""))
        position = max(end, start)
    out.append(text[position:])
    return "".join(out)


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _closing(text: str, start: int) -> int:
    """The index just past the bracketed or quoted value that starts at ``start``
    (the end of ``text`` when it never closes: a cut-off message loses its tail)."""
    opener = text[start]
    if opener in "'\"":
        end = start + 1
        while end < len(text) and text[end] != opener:
            end += 2 if text[end] == "\\" else 1
        return min(end + 1, len(text))
    expected: list[str] = []
    quote: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in _PAIRS:
            expected.append(_PAIRS[char])
        elif expected and char == expected[-1]:
            expected.pop()
            if not expected:
                return index + 1
        index += 1
    return len(text)
