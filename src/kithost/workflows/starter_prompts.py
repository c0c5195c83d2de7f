"""Starter prompts: the suggestions a chat shows in a new conversation with a workflow.

A workflow declares its own (the built-in demo in code, a YAML workflow under
``starter_prompts:``); a workflow that declares none gets none, rather than another
workflow's. Agent Builder exports carry none: hosted pages set theirs in chatkit-js's
``startScreen.prompts``, which the embedding page still can.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

MAX_STARTER_PROMPTS = 8


@dataclass(frozen=True)
class StarterPrompt:
    label: str
    prompt: str

    def wire(self) -> dict[str, str]:
        return {"label": self.label, "prompt": self.prompt}


class StarterPromptSpec(BaseModel):
    """One YAML entry: ``{label, prompt}``; a plain string is both."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=120)
    prompt: str | None = Field(default=None, min_length=1, max_length=4000)


def starter_prompts(entries: list[StarterPromptSpec | str]) -> tuple[StarterPrompt, ...]:
    """The prompts a YAML workflow declares, in its order."""
    return tuple(
        StarterPrompt(entry, entry)
        if isinstance(entry, str)
        else StarterPrompt(entry.label, entry.prompt or entry.label)
        for entry in entries
    )
