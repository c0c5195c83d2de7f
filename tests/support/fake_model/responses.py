"""``POST /v1/responses``: ``response`` objects and the semantic SSE events that the openai SDK
and the Agents SDK's ``OpenAIResponsesModel`` parse (and ChatKit's bridge maps to thread events).

Stream order: ``response.created``, ``response.in_progress``; for the text, a message item
(``output_item.added``, ``content_part.added``, ``output_text.delta``…, ``output_text.done``,
``content_part.done``, ``output_item.done``); per tool call a ``function_call`` item
(``output_item.added``, ``function_call_arguments.delta``…/``.done``, ``output_item.done``);
then ``response.completed`` carrying the whole response with usage.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tests.support.fake_model.recorded import ModelRequest
from tests.support.fake_model.replies import Reply, split_every
from tests.support.fake_model.wire import Frame, FrameKind, Renderer, count_tokens, new_id

_ECHOED = ("instructions", "previous_response_id", "temperature", "top_p", "metadata", "user")


def _response(request: ModelRequest, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    body = request.body
    response: dict[str, Any] = {
        "id": request.response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": request.model,
        "output": output,
        "error": None,
        "incomplete_details": None,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "text": body.get("text", {"format": {"type": "text"}}),
        "usage": None,
    }
    response.update({key: body.get(key) for key in _ECHOED})
    return response


def _usage(request: ModelRequest, output_tokens: int) -> dict[str, Any]:
    input_tokens = count_tokens(request.body.get("input")) + count_tokens(
        request.body.get("instructions")
    )
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _message(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content if status == "completed" else [],
    }


def _function_call(
    item_id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def stream(request: ModelRequest, reply: Reply, deltas: Iterable[str]) -> Iterator[Frame]:
    sequence = itertools.count()

    def event(kind: str, fields: dict[str, Any], frame_kind: FrameKind = "other") -> Frame:
        data = {"type": kind, **fields, "sequence_number": next(sequence)}
        return Frame(data, frame_kind, event=kind)

    request.response_id = new_id("resp_")
    output: list[dict[str, Any]] = []
    yield event("response.created", {"response": _response(request, "in_progress", [])}, "open")
    yield event("response.in_progress", {"response": _response(request, "in_progress", [])}, "open")
    tokens = 0

    if reply.deltas or not reply.tool_calls:
        item_id = new_id("msg_")
        request.item_ids.append(item_id)
        at = {"item_id": item_id, "output_index": 0, "content_index": 0}
        yield event(
            "response.output_item.added",
            {"output_index": 0, "item": _message(item_id, "", "in_progress")},
        )
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", {**at, "part": empty})
        text = ""
        for delta in deltas:
            text += delta
            tokens += 1
            yield event(
                "response.output_text.delta", {**at, "delta": delta, "logprobs": []}, "token"
            )
        yield event("response.output_text.done", {**at, "text": text, "logprobs": []})
        done = _message(item_id, text, "completed")
        yield event("response.content_part.done", {**at, "part": done["content"][0]})
        yield event("response.output_item.done", {"output_index": 0, "item": done})
        output.append(done)

    for call in reply.tool_calls:
        index, item_id, call_id = len(output), new_id("fc_"), call.call_id or new_id("call_")
        request.item_ids.append(item_id)
        at = {"item_id": item_id, "output_index": index}
        yield event(
            "response.output_item.added",
            {
                "output_index": index,
                "item": _function_call(item_id, call_id, call.name, "", "in_progress"),
            },
        )
        for piece in split_every(call.arguments_json):
            tokens += 1
            yield event("response.function_call_arguments.delta", {**at, "delta": piece}, "token")
        arguments = call.arguments_json
        yield event(
            "response.function_call_arguments.done",
            {**at, "name": call.name, "arguments": arguments},
        )
        done = _function_call(item_id, call_id, call.name, arguments, "completed")
        yield event("response.output_item.done", {"output_index": index, "item": done})
        output.append(done)

    completed = _response(request, "completed", output)
    completed["usage"] = _usage(request, tokens)
    yield event("response.completed", {"response": completed})


def body(request: ModelRequest, reply: Reply) -> dict[str, Any]:
    """The non-streaming response is exactly what ``response.completed`` would carry."""
    frames = list(stream(request, reply, reply.deltas))
    final = frames[-1].data
    assert isinstance(final, dict)
    response: dict[str, Any] = final["response"]
    return response


def error_frame(message: str, sequence_number: int) -> Frame:
    """Parsed as ``ResponseErrorEvent``; the Agents SDK raises ``ModelBehaviorError``."""
    data = {
        "type": "error",
        "code": "server_error",
        "message": message,
        "param": None,
        "sequence_number": sequence_number,
    }
    return Frame(data, event="error")


def failed_body(request: ModelRequest, message: str) -> tuple[int, dict[str, Any]]:
    request.response_id = new_id("resp_")
    response = _response(request, "failed", [])
    response["error"] = {"code": "server_error", "message": message}
    return 200, response


RENDERER = Renderer(stream=stream, body=body, error_frame=error_frame, failed_body=failed_body)
