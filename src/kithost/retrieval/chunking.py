"""Chunking strategies as OpenAI documents them: ``auto`` (800 tokens, 400 overlap) and
``static`` (``max_chunk_size_tokens`` 100..4096, ``chunk_overlap_tokens`` at most half of it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kithost.core.errors import InvalidRequest
from kithost.retrieval.tokens import count_tokens

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MIN_MAX_TOKENS = 100
MAX_MAX_TOKENS = 4096
# Chunk ends are found by proportional guesses on the text's density, each checked by counting.
_GUESSES = 4
_CLOSE_ENOUGH = 0.97
_UNDERSHOOT = 0.99
# How far back from a guessed end a chunk may move to end at white space.
_SNAP = 64
_NOT_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class ChunkingStrategy:
    max_tokens: int = AUTO_MAX_TOKENS
    overlap_tokens: int = AUTO_OVERLAP_TOKENS

    def to_wire(self) -> dict[str, Any]:
        """Always the ``static`` form: that is how OpenAI reports a file chunked with ``auto``."""
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_tokens,
                "chunk_overlap_tokens": self.overlap_tokens,
            },
        }


def _integer(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an integer.", param=param, code="invalid_type"
        )
    return value


def parse_strategy(value: Any, param: str = "chunking_strategy") -> ChunkingStrategy:
    """The strategy of a request (``None`` is ``auto``), its bounds checked as OpenAI does."""
    if value is None:
        return ChunkingStrategy()
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    kind = value.get("type")
    if kind == "auto":
        return ChunkingStrategy()
    if kind != "static":
        raise InvalidRequest(
            f"Invalid value for '{param}.type': expected 'auto' or 'static'.",
            param=f"{param}.type",
            code="invalid_value",
        )
    static = value.get("static")
    if not isinstance(static, dict):
        raise InvalidRequest(
            f"Missing required parameter: '{param}.static'.",
            param=f"{param}.static",
            code="missing_required_parameter",
        )
    size_param = f"{param}.static.max_chunk_size_tokens"
    overlap_param = f"{param}.static.chunk_overlap_tokens"
    size = _integer(static.get("max_chunk_size_tokens", AUTO_MAX_TOKENS), size_param)
    overlap = _integer(static.get("chunk_overlap_tokens", AUTO_OVERLAP_TOKENS), overlap_param)
    if not MIN_MAX_TOKENS <= size <= MAX_MAX_TOKENS:
        raise InvalidRequest(
            f"Invalid '{size_param}': expected a value between {MIN_MAX_TOKENS} and "
            f"{MAX_MAX_TOKENS}, but got {size} instead.",
            param=size_param,
            code="invalid_value",
        )
    if overlap < 0 or overlap > size // 2:
        raise InvalidRequest(
            f"Invalid '{overlap_param}': expected a value between 0 and half of "
            f"max_chunk_size_tokens ({size // 2}), but got {overlap} instead.",
            param=overlap_param,
            code="invalid_value",
        )
    return ChunkingStrategy(size, overlap)


def strategy_from_wire(value: dict[str, Any]) -> ChunkingStrategy:
    static = value.get("static") or {}
    return ChunkingStrategy(
        int(static.get("max_chunk_size_tokens", AUTO_MAX_TOKENS)),
        int(static.get("chunk_overlap_tokens", AUTO_OVERLAP_TOKENS)),
    )


def chunk_text(text: str, strategy: ChunkingStrategy) -> Iterator[tuple[str, int]]:
    """Windows of at most ``max_tokens`` tokens, each starting ``max - overlap`` tokens after the
    last, as (text, token count), cut at white space; lazily, so that a big file never holds
    every chunk at once."""
    length = len(text)
    start = _skip_space(text, 0)
    chars_per_token = 4.0
    step = strategy.max_tokens - strategy.overlap_tokens
    while start < length:
        end, chars_per_token = _advance(text, start, strategy.max_tokens, chars_per_token)
        chunk = text[start:end].strip()
        if chunk:
            yield chunk, count_tokens(chunk)
        if end >= length:
            return
        following, chars_per_token = _advance(text, start, step, chars_per_token)
        start = _skip_space(text, max(following, start + 1))


def _skip_space(text: str, at: int) -> int:
    match = _NOT_SPACE.search(text, at)
    return match.start() if match else len(text)


def _advance(text: str, start: int, tokens: int, chars_per_token: float) -> tuple[int, float]:
    """An offset after ``start`` with at most ``tokens`` tokens between (as close to it as a few
    proportional guesses get), moved back to the nearest white space; and the text's density."""
    length = len(text)
    end = min(length, start + max(1, int(tokens * chars_per_token)))
    for _ in range(_GUESSES):
        counted = count_tokens(text[start:end])
        if counted:
            chars_per_token = (end - start) / counted
        if counted <= tokens and (end == length or counted >= tokens * _CLOSE_ENOUGH):
            break
        end = min(length, start + max(1, int(tokens * chars_per_token * _UNDERSHOOT)))
    while end > start + 1 and count_tokens(text[start:end]) > tokens:
        end = start + int((end - start) * _UNDERSHOOT)
    if end < length:
        space = text.rfind(" ", max(start + 1, end - _SNAP), end)
        newline = text.rfind("\n", max(start + 1, end - _SNAP), end)
        cut = max(space, newline)
        if cut > start:
            end = cut
    return max(end, start + 1), chars_per_token
