"""``POST /v1/chat/completions``: ``chat.completion`` bodies and ``chat.completion.chunk`` SSE,
shaped like OpenAI's so the openai SDK and the Agents SDK's stream handler parse them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from tests.support.fake_model.recorded import ModelRequest
from tests.support.fake_model.replies import Reply, split_every
from tests.support.fake_model.wire import Frame, Renderer, count_tokens, new_id


def _usage(request: ModelRequest, completion_tokens: int) -> dict[str, Any]:
    prompt_tokens = count_tokens(request.body.get("messages"))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _call_ids(request: ModelRequest, reply: Reply) -> list[str]:
    ids = [call.call_id or new_id("call_") for call in reply.tool_calls]
    request.item_ids.extend(ids)
    return ids


def stream(request: ModelRequest, reply: Reply, deltas: Iterable[str]) -> Iterator[Frame]:
    request.response_id = new_id("chatcmpl-")
    base = {
        "id": request.response_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**base, "choices": [choice]}

    yield Frame(chunk({"role": "assistant", "content": ""}), "open")
    tokens = 0
    for delta in deltas:
        tokens += 1
        yield Frame(chunk({"content": delta}), "token")
    for index, (call, call_id) in enumerate(
        zip(reply.tool_calls, _call_ids(request, reply), strict=True)
    ):
        function = {"name": call.name, "arguments": ""}
        opening = {"index": index, "id": call_id, "type": "function", "function": function}
        yield Frame(chunk({"tool_calls": [opening]}))
        for piece in split_every(call.arguments_json):
            tokens += 1
            yield Frame(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}), "token"
            )
    yield Frame(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (request.body.get("stream_options") or {}).get("include_usage"):
        yield Frame({**base, "choices": [], "usage": _usage(request, tokens)})
    yield Frame("[DONE]")


def body(request: ModelRequest, reply: Reply) -> dict[str, Any]:
    request.response_id = new_id("chatcmpl-")
    calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }
        for call, call_id in zip(reply.tool_calls, _call_ids(request, reply), strict=True)
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": request.response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": _usage(request, reply.token_count),
    }


def error_frame(message: str, sequence_number: int) -> Frame:
    """The openai SDK raises ``APIError`` on a chunk carrying an ``error`` key."""
    return Frame(
        {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    )


def failed_body(request: ModelRequest, message: str) -> tuple[int, dict[str, Any]]:
    return 500, {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


RENDERER = Renderer(stream=stream, body=body, error_frame=error_frame, failed_body=failed_body)
