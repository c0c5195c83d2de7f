"""Thread titles when the session asks for automatic titling."""

from __future__ import annotations

MAX_TITLE_LENGTH = 60


def fallback_title(text: str) -> str | None:
    """A deterministic title from the first message: its first line, cut at a word boundary."""
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if not line:
        return None
    if len(line) <= MAX_TITLE_LENGTH:
        return line
    cut = line[:MAX_TITLE_LENGTH].rsplit(" ", 1)[0] or line[:MAX_TITLE_LENGTH]
    return cut.rstrip(" ,.;:-") + "…"
