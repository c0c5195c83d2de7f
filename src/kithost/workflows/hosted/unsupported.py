"""Hosted tools with no local equivalent: they run on OpenAI, and nowhere else."""

from __future__ import annotations

from agents import (
    ApplyPatchTool,
    CodeInterpreterTool,
    ComputerTool,
    ImageGenerationTool,
    LocalShellTool,
    ShellTool,
    Tool,
)

from kithost.workflows.capabilities import Finding
from kithost.workflows.hosted import tool_subject

# Why each has no local equivalent, for `workflows check` and the 400 of sessions.create.
REASONS: dict[type[Tool], str] = {
    CodeInterpreterTool: "code runs in OpenAI's sandbox, which only OpenAI's Responses API has",
    ImageGenerationTool: "image generation is an OpenAI Responses API tool",
    ComputerTool: "computer use needs OpenAI's Responses API",
    LocalShellTool: "the local shell tool needs OpenAI's Responses API",
    ShellTool: "the shell tool needs OpenAI's Responses API",
    ApplyPatchTool: "the apply-patch tool needs OpenAI's Responses API",
}


class OpenAIOnlyTools:
    """Adapter for the tools above: pass through on OpenAI, unavailable elsewhere."""

    def handles(self, tool: Tool) -> bool:
        return isinstance(tool, tuple(REASONS))

    def finding(self, tool: Tool, passthrough: bool) -> Finding:
        if passthrough:
            return Finding(tool_subject(tool), "runs_on_openai")
        reason = next(text for kind, text in REASONS.items() if isinstance(tool, kind))
        return Finding(tool_subject(tool), "unavailable", reason)

    def localize(self, tool: Tool) -> Tool:
        raise AssertionError("OpenAI-only tools are never localized")  # finding() blocks
