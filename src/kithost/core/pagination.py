"""Cursor pagination as the official SDKs rely on it (hosted-api.md §5).

Rows sort by ``(created_at, seq)`` in ``order``. ``after=X`` keeps rows strictly following X in
that order and ``before=X`` rows strictly preceding it; both may apply. The page is the first
``limit`` rows left, and ``has_more`` says whether any remain beyond it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Order = Literal["asc", "desc"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class ListParams:
    limit: int = DEFAULT_LIMIT
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page[T]:
    data: list[T]
    has_more: bool

    def to_wire(self, render: Callable[[T], dict[str, Any] | None]) -> dict[str, Any]:
        """The list envelope: ``object``, ``data``, ``first_id``, ``last_id``, ``has_more``."""
        rows = [wire for wire in map(render, self.data) if wire is not None]
        return {
            "object": "list",
            "data": rows,
            "first_id": rows[0]["id"] if rows else None,
            "last_id": rows[-1]["id"] if rows else None,
            "has_more": self.has_more,
        }
