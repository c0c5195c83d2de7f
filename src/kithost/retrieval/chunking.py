"""Chunking strategies as OpenAI documents them: ``auto`` (800 tokens, 400 overlap) and
``static`` (``max_chunk_size_tokens`` 100..4096, ``chunk_overlap_tokens`` at most half of it)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kithost.core.errors import InvalidRequest
from kithost.retrieval.tokens import Piece, pieces

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MIN_MAX_TOKENS = 100
MAX_MAX_TOKENS = 4096


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
    """Windows of about ``max_tokens`` tokens, each starting ``max - overlap`` tokens after the
    last, as (text, token count); lazily, so a big file never holds every chunk at once."""
    window: deque[Piece] = deque()
    total = 0
    fresh = False  # pieces added since the last chunk went out

    def emit() -> tuple[str, int] | None:
        piece_text = text[window[0].start : window[-1].end].strip()
        return (piece_text, total) if piece_text else None

    for piece in pieces(text):
        window.append(piece)
        total += piece.tokens
        fresh = True
        if total >= strategy.max_tokens:
            chunk = emit()
            if chunk is not None:
                yield chunk
            fresh = False
            # Keep the last ``overlap`` tokens as the start of the next window.
            while window and total - window[0].tokens >= strategy.overlap_tokens:
                total -= window.popleft().tokens
    if window and fresh:
        chunk = emit()
        if chunk is not None:
            yield chunk
