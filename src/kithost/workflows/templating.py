"""``{{name}}`` placeholders in agent instructions, filled from the session's state variables."""

from __future__ import annotations

import re
from typing import Any

from agents import Agent

PLACEHOLDER = re.compile(r"\{\{\s*(?:state\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(text: str, variables: dict[str, Any]) -> str:
    """Replace ``{{name}}`` (or ``{{state.name}}``) by the variable; unknown names stay as is."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if name in variables else match.group(0)

    return PLACEHOLDER.sub(value, text)


def render_placeholders(agent: Agent[Any], variables: dict[str, Any]) -> Agent[Any]:
    """A copy of ``agent`` whose string instructions have their placeholders filled."""
    if not variables or not isinstance(agent.instructions, str):
        return agent
    rendered = render(agent.instructions, variables)
    return agent if rendered == agent.instructions else agent.clone(instructions=rendered)
