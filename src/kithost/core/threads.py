"""Threads and items as the control plane sees them, and their REST rendering (hosted-api.md §4).

Items are stored in the ChatKit protocol's shape; the REST API shows a rendered subset of six
types. Anything else (hidden context, end-of-turn, images, structured input) is never emitted,
because the SDKs would misparse an unknown ``type`` (hosted-api.md §1.3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ThreadStatus = Literal["active", "locked", "closed"]

# Protocol item types that have a REST form, and that form's ``type``.
REST_ITEM_TYPES: dict[str, str] = {
    "user_message": "chatkit.user_message",
    "assistant_message": "chatkit.assistant_message",
    "widget": "chatkit.widget",
    "client_tool_call": "chatkit.client_tool_call",
    "task": "chatkit.task",
    "workflow": "chatkit.task_group",
}


@dataclass(frozen=True)
class ThreadRecord:
    id: str
    user: str
    created_at: float
    title: str | None = None
    status: ThreadStatus = "active"
    status_reason: str | None = None
    session_id: str | None = None
    workflow_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    allowed_image_domains: list[str] | None = None

    def status_wire(self) -> dict[str, Any]:
        if self.status == "active":
            return {"type": "active"}
        return {"type": self.status, "reason": self.status_reason}

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chatkit.thread",
            "created_at": int(self.created_at),
            "title": self.title,
            "status": self.status_wire(),
            "user": self.user,
        }

    def to_extended_wire(self) -> dict[str, Any]:
        """The REST form plus what only kithost's extensions show (docs/api.md)."""
        return {**self.to_wire(), "metadata": self.metadata, "workflow_id": self.workflow_id}


@dataclass(frozen=True)
class ItemRecord:
    id: str
    thread_id: str
    type: str
    created_at: float
    data: dict[str, Any]

    def with_fresh_links(self, refresh: Callable[[str | None], str | None]) -> ItemRecord:
        """A copy whose attachments' preview links are passed through ``refresh``."""
        attachments = self.data.get("attachments")
        if not attachments:
            return self
        fresh = [{**a, "preview_url": refresh(a.get("preview_url"))} for a in attachments]
        return replace(self, data={**self.data, "attachments": fresh})

    def to_wire(self) -> dict[str, Any] | None:
        """The REST form of this item, or None when the item has no REST form."""
        render = _RENDERERS.get(self.type)
        if render is None:
            return None
        return {
            "id": self.id,
            "object": "chatkit.thread_item",
            "created_at": int(self.created_at),
            "thread_id": self.thread_id,
            "type": REST_ITEM_TYPES[self.type],
            **render(self.data),
        }


def _attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": attachment["id"],
        "type": "image" if attachment.get("type") == "image" else "file",
        "name": attachment.get("name") or "",
        "mime_type": attachment.get("mime_type") or "application/octet-stream",
        "preview_url": attachment.get("preview_url"),
    }


def _user_message(data: dict[str, Any]) -> dict[str, Any]:
    content = [
        {"type": "input_text", "text": part.get("text", "")}
        for part in data.get("content", [])
        if part.get("type") in ("input_text", "input_tag")
    ]
    if data.get("quoted_text"):
        content.append({"type": "quoted_text", "text": data["quoted_text"]})
    options = data.get("inference_options")
    inference = None
    if options is not None:
        tool_choice = options.get("tool_choice")
        inference = {
            "model": options.get("model"),
            "tool_choice": {"id": tool_choice["id"]} if tool_choice else None,
        }
    return {
        "content": content,
        "attachments": [_attachment(a) for a in data.get("attachments", [])],
        "inference_options": inference,
    }


def _annotation(annotation: dict[str, Any]) -> dict[str, Any] | None:
    source = annotation.get("source") or {}
    if source.get("type") == "url":
        return {"type": "url", "source": {"type": "url", "url": source.get("url", "")}}
    if source.get("type") == "file":
        return {"type": "file", "source": {"type": "file", "filename": source.get("filename", "")}}
    return None  # entity sources have no REST form


def _assistant_message(data: dict[str, Any]) -> dict[str, Any]:
    parts = []
    for part in data.get("content", []):
        annotations = [_annotation(a) for a in part.get("annotations", [])]
        parts.append(
            {
                "type": "output_text",
                "text": part.get("text", ""),
                "annotations": [a for a in annotations if a is not None],
            }
        )
    return {"content": parts}


def _without_nulls(value: Any) -> Any:
    """The widget tree as the protocol sends it: unset (null) properties left out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _widget(data: dict[str, Any]) -> dict[str, Any]:
    widget = _without_nulls(data.get("widget", {}))
    return {"widget": json.dumps(widget, separators=(",", ":"))}


def _client_tool_call(data: dict[str, Any]) -> dict[str, Any]:
    completed = data.get("status") == "completed"
    return {
        "status": "completed" if completed else "in_progress",
        "call_id": data.get("call_id", ""),
        "name": data.get("name", ""),
        "arguments": json.dumps(data.get("arguments", {})),
        "output": json.dumps(data.get("output")) if completed else None,
    }


def _task_fields(task: dict[str, Any]) -> tuple[str, str | None, str | None]:
    kind = "thought" if task.get("type") == "thought" else "custom"
    heading = task.get("title")
    summary = task.get("content")
    return kind, heading, summary


def _task(data: dict[str, Any]) -> dict[str, Any]:
    kind, heading, summary = _task_fields(data.get("task", {}))
    return {"task_type": kind, "heading": heading, "summary": summary}


def _workflow(data: dict[str, Any]) -> dict[str, Any]:
    tasks = []
    for task in data.get("workflow", {}).get("tasks", []):
        kind, heading, summary = _task_fields(task)
        tasks.append({"type": kind, "heading": heading, "summary": summary})
    return {"tasks": tasks}


_RENDERERS = {
    "user_message": _user_message,
    "assistant_message": _assistant_message,
    "widget": _widget,
    "client_tool_call": _client_tool_call,
    "task": _task,
    "workflow": _workflow,
}
