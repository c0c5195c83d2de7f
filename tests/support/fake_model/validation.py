"""The few request checks where OpenAI answers 400, so history-conversion bugs in kithost
fail against the fake as they would against the real API instead of passing silently."""

from __future__ import annotations

from typing import Any

from tests.support.fake_model.recorded import ModelRequest

_CHAT_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_CHAT_PARTS = {
    "assistant": {"text", "refusal"},
    "user": {"text", "image_url", "input_audio", "file"},
    "system": {"text"},
    "developer": {"text"},
    "tool": {"text"},
}
_INPUT_PARTS = {"input_text", "input_image", "input_file"}
_RESPONSES_PARTS = {
    "assistant": {"output_text", "refusal"},
    "user": _INPUT_PARTS,
    "system": _INPUT_PARTS,
    "developer": _INPUT_PARTS,
}


def problem(request: ModelRequest) -> str | None:
    """The error message OpenAI would give, or None if the request looks valid."""
    if not isinstance(request.model, str) or not request.model:
        return "Missing required parameter: 'model'."
    if request.api == "chat":
        return _chat_problem(request.body.get("messages"))
    return _responses_problem(request.body)


def _part_problem(role: str, content: Any, allowed: dict[str, set[str]]) -> str | None:
    if not isinstance(content, list):
        return None
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed.get(role, set()):
            return f"Invalid content part type {kind!r} in a {role!r} message."
    return None


def _chat_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "Missing required parameter: 'messages'."
    unanswered: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _CHAT_ROLES:
            return f"Invalid value for 'messages[{index}].role': {role!r}."
        if role == "tool":
            if message.get("tool_call_id") not in unanswered:
                return (
                    f"messages[{index}]: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'."
                )
            unanswered.discard(message["tool_call_id"])
            continue
        if unanswered:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {sorted(unanswered)}."
            )
        found = _part_problem(role, message.get("content"), _CHAT_PARTS)
        if found:
            return f"messages[{index}]: {found}"
        unanswered = {call.get("id") for call in message.get("tool_calls") or []}
    return None


def _responses_problem(body: dict[str, Any]) -> str | None:
    items = body.get("input")
    if isinstance(items, str):
        return None
    if not isinstance(items, list):
        return "Invalid type for 'input': expected a string or an array of input items."
    calls: set[str] = set()
    outputs: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return f"Invalid type for 'input[{index}]': expected an object."
        kind = item.get("type", "message")
        if kind == "function_call":
            calls.add(item.get("call_id", ""))
        elif kind == "function_call_output":
            if item.get("call_id") not in calls and not body.get("previous_response_id"):
                call_id = item.get("call_id")
                return f"No tool call found for function call output with call_id {call_id}."
            outputs.add(item.get("call_id", ""))
        elif kind == "message":
            found = _part_problem(str(item.get("role")), item.get("content"), _RESPONSES_PARTS)
            if found:
                return f"input[{index}]: {found}"
    missing = sorted(calls - outputs)
    return f"No tool output found for function call {missing[0]}." if missing else None
