"""What both wire formats share: SSE frames, IDs, rough token counts, the renderer contract."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tests.support.fake_model.recorded import ModelRequest
from tests.support.fake_model.replies import Reply

FrameKind = Literal["open", "token", "other"]


@dataclass(frozen=True)
class Frame:
    """One SSE event. ``token`` frames are paced; endings cut after the last one (or after
    the ``open`` frames when there is no token)."""

    data: dict[str, Any] | str
    kind: FrameKind = "other"
    event: str | None = None

    def encode(self) -> bytes:
        data = self.data if isinstance(self.data, str) else json.dumps(self.data)
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {data}\n\n".encode()


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


def count_tokens(value: Any) -> int:
    """A stable, cheap stand-in for a tokenizer: whitespace-separated words of the JSON."""
    return len(json.dumps(value).split())


@dataclass(frozen=True)
class Renderer:
    """One API's wire format: the event stream, the non-streaming body, and failures."""

    stream: Callable[[ModelRequest, Reply, Iterable[str]], Iterator[Frame]]
    """Frames for ``reply`` whose text deltas are the given iterable (cycled for ``repeat``)."""
    body: Callable[[ModelRequest, Reply], dict[str, Any]]
    error_frame: Callable[[str, int], Frame]
    """The in-stream error event (message, sequence number)."""
    failed_body: Callable[[ModelRequest, str], tuple[int, dict[str, Any]]]
    """Status and body of a non-streaming ``error_event`` reply."""
