"""Scripted replies: what the fake model answers, how fast, and how the answer ends.

A :class:`Reply` is API-neutral; the Chat Completions and Responses renderers turn the
same reply into each wire format, so one script drives either provider path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Ending = Literal["finish", "hang", "repeat", "truncate", "garbage", "abort", "error_event"]
"""How a reply ends after its last token.

``finish``: normally. ``hang``: stays open, silent, until the client leaves or the fake stops.
``repeat``: repeats its deltas forever. ``truncate``: the HTTP body ends cleanly but without
the terminal event (``finish_reason``/``[DONE]``, ``response.completed``). ``garbage``: a
non-JSON ``data:`` line. ``abort``: the TCP connection is dropped mid-body. ``error_event``:
an in-stream error (Chat: ``data: {"error": …}``; Responses: an ``error`` event).
"""

_WORDS = re.compile(r"\S+\s*|\s+")


def split_words(content: str) -> tuple[str, ...]:
    """Word-sized deltas (trailing whitespace kept), like a tokenizer would roughly produce."""
    return tuple(_WORDS.findall(content))


def split_every(content: str, size: int = 8) -> tuple[str, ...]:
    """Fixed-size deltas; used for JSON so clients must reassemble partial tokens."""
    return tuple(content[i : i + size] for i in range(0, len(content), size))


@dataclass(frozen=True)
class ToolCall:
    """A function call the model makes; ``arguments`` may be a mapping or raw JSON text."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class HttpError:
    """A non-2xx answer in OpenAI's error envelope, so the SDK raises its typed error."""

    status: int
    message: str
    type: str = "server_error"
    code: str | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class Reply:
    """One model answer: text deltas, then tool calls, paced and ended as configured."""

    deltas: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    http_error: HttpError | None = None
    ending: Ending = "finish"
    first_token_delay: float = 0.0
    """Seconds before the first token (or before the error / the whole non-stream body)."""
    token_interval: float = 0.0
    """Seconds between tokens; non-streaming replies wait the sum before answering."""
    error_message: str = "The fake model failed mid-stream."
    """Message of the ``error_event`` ending."""

    @property
    def text(self) -> str:
        return "".join(self.deltas)

    @property
    def token_count(self) -> int:
        """Deltas streamed: text deltas plus tool-call argument pieces."""
        pieces = sum(len(split_every(call.arguments_json)) for call in self.tool_calls)
        return len(self.deltas) + pieces

    def paced(
        self, first_token_delay: float | None = None, token_interval: float | None = None
    ) -> Reply:
        """A copy with other timing, e.g. ``text("hi").paced(token_interval=0.05)``."""
        return replace(
            self,
            first_token_delay=self.first_token_delay
            if first_token_delay is None
            else first_token_delay,
            token_interval=self.token_interval if token_interval is None else token_interval,
        )


def _deltas(content: str | Sequence[str]) -> tuple[str, ...]:
    return split_words(content) if isinstance(content, str) else tuple(content)


def text(
    content: str | Sequence[str], *, first_token_delay: float = 0.0, token_interval: float = 0.0
) -> Reply:
    """Plain assistant text, streamed word by word (or as the exact deltas given)."""
    return Reply(
        deltas=_deltas(content),
        first_token_delay=first_token_delay,
        token_interval=token_interval,
    )


def structured(value: Any, *, first_token_delay: float = 0.0, token_interval: float = 0.0) -> Reply:
    """Structured output: the model's text is ``json.dumps(value)``, for agents with an
    ``output_type`` (the SDK asks for a JSON schema and parses the text)."""
    return Reply(
        deltas=split_every(json.dumps(value)),
        first_token_delay=first_token_delay,
        token_interval=token_interval,
    )


def tool_call(
    name: str,
    arguments: Mapping[str, Any] | str | None = None,
    *,
    call_id: str | None = None,
    text: str = "",
    first_token_delay: float = 0.0,
    token_interval: float = 0.0,
) -> Reply:
    """One function call (optionally after some text); use :func:`tool_calls` for several."""
    call = ToolCall(name, {} if arguments is None else arguments, call_id)
    return tool_calls(
        call, text=text, first_token_delay=first_token_delay, token_interval=token_interval
    )


def tool_calls(
    *calls: ToolCall, text: str = "", first_token_delay: float = 0.0, token_interval: float = 0.0
) -> Reply:
    """Parallel function calls in one model turn."""
    return Reply(
        deltas=split_words(text),
        tool_calls=calls,
        first_token_delay=first_token_delay,
        token_interval=token_interval,
    )


def error(
    status: int = 500,
    message: str = "The fake model is failing on purpose.",
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    """An HTTP error in OpenAI's envelope. Note the openai SDK retries 408/409/429/5xx
    (``max_retries``, default 2): each retry takes the next scripted reply."""
    default_type = "invalid_request_error" if 400 <= status < 500 else "server_error"
    failure = HttpError(status, message, type or default_type, code, param, dict(headers or {}))
    return Reply(http_error=failure, first_token_delay=delay)


def delayed(seconds: float) -> Reply:
    """For rules on requests that answer by themselves (embeddings): the usual answer, after
    ``seconds`` (a slow provider; a server stopped meanwhile is caught mid-call)."""
    return Reply(first_token_delay=seconds)


def hang(content: str | Sequence[str] = "", *, token_interval: float = 0.0) -> Reply:
    """Streams ``content`` (if any) and then never finishes: for timeout and Stop tests."""
    return Reply(deltas=_deltas(content), ending="hang", token_interval=token_interval)


def endless(delta: str = "more ", *, token_interval: float = 0.01) -> Reply:
    """A never-ending token stream, e.g. for cancelling a long answer mid-way."""
    return Reply(deltas=(delta,), ending="repeat", token_interval=token_interval)


def malformed(
    kind: Literal["garbage", "truncate", "abort"],
    content: str | Sequence[str] = "partial answer",
    *,
    token_interval: float = 0.0,
) -> Reply:
    """A broken stream after ``content``: garbage SSE, a clean but early end, or a dropped
    connection. Non-streaming: an unparsable body, half a JSON body, or a dropped connection."""
    return Reply(deltas=_deltas(content), ending=kind, token_interval=token_interval)


def stream_error(
    message: str = "The fake model failed mid-stream.",
    content: str | Sequence[str] = "partial answer",
) -> Reply:
    """An in-stream error event after ``content`` (non-streaming: a failed response / 500)."""
    return Reply(deltas=_deltas(content), ending="error_event", error_message=message)
