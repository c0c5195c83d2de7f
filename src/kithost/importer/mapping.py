"""REST threads and items (hosted-api.md §4.2 and §4.3) back into the form kithost stores.

kithost stores ChatKit protocol items and renders six kinds of them as REST items
(``kithost.core.threads``). Importing runs that rendering backwards: each REST item becomes the
protocol item that renders to it, validated as ``chatkit.types.ThreadItem`` so that the chat can
show it. Where the protocol asks for more than REST says, the gaps are filled plainly:

- ``chatkit.user_message``: ``input_text`` parts stay, a ``quoted_text`` part becomes the
  message's ``quoted_text``; attachments keep their id, name and type, with the preview link the
  caller chose (kithost's own once the bytes are copied, else the source's);
- ``chatkit.assistant_message``: url and file annotations become sources titled by their url or
  file name (or the source's ``title`` when it sends one);
- ``chatkit.widget``: the JSON string is parsed back into the widget tree, stored verbatim;
- ``chatkit.client_tool_call``: ``in_progress`` is ``pending``; ``arguments`` and ``output`` are
  parsed from their JSON strings;
- ``chatkit.task``: a ``custom`` or ``thought`` task, ``heading`` its title, ``summary`` its
  content;
- ``chatkit.task_group``: a ChatKit ``workflow`` item holding the tasks (a ``reasoning``
  workflow when every task is a thought, else ``custom``), collapsed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from kithost.core.ids import THREAD_PREFIX
from kithost.core.threads import ItemRecord, ThreadRecord, ThreadStatus

with warnings.catch_warnings():
    # chatkit deprecates its own named widget classes as it defines them (a warning on import).
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.types import Attachment, ThreadItem

Json = dict[str, Any]
ID_MAX_LENGTH = 64  # kithost's id columns
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)
_STATUSES: tuple[ThreadStatus, ...] = ("active", "locked", "closed")


class Unmappable(Exception):
    """A source object with no faithful kithost form; the message says why."""


@dataclass(frozen=True)
class SourceAttachment:
    """An attachment of a user message, as the source lists it."""

    id: str
    type: Literal["image", "file"]
    name: str
    mime_type: str
    preview_url: str | None


def thread_record(rest: Json) -> ThreadRecord:
    thread_id = _id(rest, "id")
    if not thread_id.startswith(THREAD_PREFIX):
        raise Unmappable(f"thread id {thread_id!r} does not start with {THREAD_PREFIX!r}")
    status = rest.get("status") or {}
    kind = status.get("type") if isinstance(status, dict) else None
    if kind not in _STATUSES:
        raise Unmappable(f"unknown thread status {kind!r}")
    title = rest.get("title")
    if title is not None and not isinstance(title, str):
        raise Unmappable("the title is not a string")
    reason = status.get("reason") if kind != "active" else None
    return ThreadRecord(
        id=thread_id,
        user=_str(rest, "user"),
        created_at=_time(rest),
        title=title,
        status=kind,
        status_reason=reason if isinstance(reason, str) else None,
    )


def attachments_of(rest: Json) -> list[SourceAttachment]:
    """The attachments of a REST user message (none for any other item)."""
    if rest.get("type") != "chatkit.user_message":
        return []
    found = []
    for attachment in _list(rest, "attachments"):
        kind = attachment.get("type")
        if kind not in ("image", "file"):
            raise Unmappable(f"attachment of unknown type {kind!r}")
        preview = attachment.get("preview_url")
        found.append(
            SourceAttachment(
                id=_id(attachment, "id"),
                type="image" if kind == "image" else "file",
                name=_str(attachment, "name"),
                mime_type=_str(attachment, "mime_type"),
                preview_url=preview if isinstance(preview, str) and preview else None,
            )
        )
    return found


def attachment_data(attachment: SourceAttachment, thread_id: str, preview_url: str | None) -> Json:
    """The stored ChatKit form of an attachment, bound to ``thread_id``.

    ``preview_url`` is kept exactly as given, on a file too: the protocol has no field for a
    file's link, but kithost's REST view shows one when it is stored.
    """
    if attachment.type == "image" and preview_url is None:
        raise Unmappable(f"image attachment {attachment.id} has no preview link")
    fields = {
        "type": attachment.type,
        "id": attachment.id,
        "name": attachment.name,
        "mime_type": attachment.mime_type,
        "thread_id": thread_id,
        "preview_url": preview_url,
    }
    try:
        validated = _ATTACHMENT.validate_python(fields)
    except ValidationError as error:
        raise Unmappable(f"attachment {attachment.id}: {_first_problem(error)}") from None
    stored: Json = validated.model_dump(mode="json")
    if preview_url is not None:
        stored["preview_url"] = preview_url
    return stored


def item_record(rest: Json, thread_id: str, previews: Mapping[str, str | None]) -> ItemRecord:
    """The stored form of a REST item of ``thread_id``.

    ``previews`` gives, by attachment id, the preview link to keep (None: no link); an image
    needs one.
    """
    rest_type = rest.get("type")
    build = _BUILDERS.get(rest_type) if isinstance(rest_type, str) else None
    if build is None:
        raise Unmappable(f"unsupported item type {rest_type!r}")
    kind, fields = build(rest, thread_id, previews)
    created_at = _time(rest)
    data: Json = {
        "id": _id(rest, "id"),
        "thread_id": thread_id,
        "created_at": datetime.fromtimestamp(created_at),
        "type": kind,
        **fields,
    }
    try:
        with warnings.catch_warnings():
            # Building chatkit's named widget classes warns (deprecated in favour of templates).
            warnings.simplefilter("ignore", DeprecationWarning)
            item = _ITEM.validate_python(data)
    except ValidationError as error:
        raise Unmappable(f"not a valid ChatKit {kind} item: {_first_problem(error)}") from None
    stored: Json = item.model_dump(mode="json")
    _keep_verbatim(stored, fields)
    return ItemRecord(
        id=item.id, thread_id=thread_id, type=kind, created_at=created_at, data=stored
    )


def _keep_verbatim(stored: Json, fields: Json) -> None:
    """Put back what validation would reformat, so kithost renders it as the source did."""
    if "widget" in fields:
        stored["widget"] = fields["widget"]  # the tree as sent, key order and all
    for stored_attachment, given in zip(
        stored.get("attachments", []), fields.get("attachments", []), strict=True
    ):
        # URLs exactly as given (pydantic normalises them); a file's link too, which the
        # protocol has no field for but the REST view shows.
        if given.get("preview_url") is not None:
            stored_attachment["preview_url"] = given["preview_url"]


# one builder per REST type: (protocol type, type-specific fields)


def _user_message(
    rest: Json, thread_id: str, previews: Mapping[str, str | None]
) -> tuple[str, Json]:
    texts: list[Json] = []
    quoted: list[str] = []
    for part in _list(rest, "content"):
        kind = part.get("type")
        if kind == "input_text":
            texts.append({"type": "input_text", "text": _str(part, "text")})
        elif kind == "quoted_text":
            quoted.append(_str(part, "text"))
        else:
            raise Unmappable(f"user message content of type {kind!r}")
    attachments = [
        attachment_data(attachment, thread_id, previews.get(attachment.id, attachment.preview_url))
        for attachment in attachments_of(rest)
    ]
    options = rest.get("inference_options") or {}
    tool_choice = options.get("tool_choice") if isinstance(options, dict) else None
    return "user_message", {
        "content": texts,
        "attachments": attachments,
        "quoted_text": "\n".join(quoted) if quoted else None,
        "inference_options": {
            "model": options.get("model") if isinstance(options, dict) else None,
            "tool_choice": {"id": _str(tool_choice, "id")} if tool_choice else None,
        },
    }


def _annotation(rest: Json) -> Json:
    source = rest.get("source")
    kind = rest.get("type")
    if not isinstance(source, dict) or kind not in ("url", "file") or source.get("type") != kind:
        raise Unmappable(f"annotation of unknown type {kind!r}")
    name = _str(source, "url" if kind == "url" else "filename")
    title = source.get("title")
    annotation: Json = {
        "type": "annotation",
        "source": {**source, "title": title if isinstance(title, str) else name},
    }
    if isinstance(rest.get("index"), int):
        annotation["index"] = rest["index"]
    return annotation


def _assistant_message(
    rest: Json, thread_id: str, previews: Mapping[str, str | None]
) -> tuple[str, Json]:
    parts = []
    for part in _list(rest, "content"):
        if part.get("type") != "output_text":
            raise Unmappable(f"assistant message content of type {part.get('type')!r}")
        parts.append(
            {
                "type": "output_text",
                "text": _str(part, "text"),
                "annotations": [_annotation(a) for a in _list(part, "annotations")],
            }
        )
    return "assistant_message", {"content": parts}


def _widget(rest: Json, thread_id: str, previews: Mapping[str, str | None]) -> tuple[str, Json]:
    tree = _parse_json(rest, "widget")
    if not isinstance(tree, dict):
        raise Unmappable("the widget is not a JSON object")
    return "widget", {"widget": tree}


def _client_tool_call(
    rest: Json, thread_id: str, previews: Mapping[str, str | None]
) -> tuple[str, Json]:
    status = rest.get("status")
    if status not in ("in_progress", "completed"):
        raise Unmappable(f"client tool call status {status!r}")
    arguments = _parse_json(rest, "arguments")
    if not isinstance(arguments, dict):
        raise Unmappable("the client tool call's arguments are not a JSON object")
    completed = status == "completed"
    output = _parse_json(rest, "output") if completed and rest.get("output") is not None else None
    return "client_tool_call", {
        "status": "completed" if completed else "pending",
        "call_id": _str(rest, "call_id"),
        "name": _str(rest, "name"),
        "arguments": arguments,
        "output": output,
    }


def _task_of(kind: Any, heading: Any, summary: Any) -> Json:
    if kind not in ("custom", "thought"):
        raise Unmappable(f"task of type {kind!r}")
    if kind == "thought":
        # The protocol's thought always has content; REST may say null.
        return {"type": "thought", "title": heading, "content": summary or ""}
    return {"type": "custom", "title": heading, "content": summary}


def _task(rest: Json, thread_id: str, previews: Mapping[str, str | None]) -> tuple[str, Json]:
    task = _task_of(rest.get("task_type"), rest.get("heading"), rest.get("summary"))
    return "task", {"task": task}


def _task_group(rest: Json, thread_id: str, previews: Mapping[str, str | None]) -> tuple[str, Json]:
    tasks = [
        _task_of(t.get("type"), t.get("heading"), t.get("summary")) for t in _list(rest, "tasks")
    ]
    reasoning = bool(tasks) and all(task["type"] == "thought" for task in tasks)
    workflow = {"type": "reasoning" if reasoning else "custom", "tasks": tasks, "expanded": False}
    return "workflow", {"workflow": workflow}


_BUILDERS = {
    "chatkit.user_message": _user_message,
    "chatkit.assistant_message": _assistant_message,
    "chatkit.widget": _widget,
    "chatkit.client_tool_call": _client_tool_call,
    "chatkit.task": _task,
    "chatkit.task_group": _task_group,
}


# field readers that turn a malformed source object into Unmappable, not a crash


def _str(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise Unmappable(f"'{key}' is missing or not a string")
    return value


def _id(data: Json, key: str) -> str:
    value = _str(data, key)
    if not value or len(value) > ID_MAX_LENGTH:
        raise Unmappable(f"'{key}' {value!r} is empty or longer than {ID_MAX_LENGTH} characters")
    return value


def _list(data: Json, key: str) -> list[Json]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Unmappable(f"'{key}' is not a list of objects")
    return value


def _time(data: Json) -> float:
    value = data.get("created_at")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise Unmappable("'created_at' is missing or not a Unix time")
    try:
        datetime.fromtimestamp(value)
    except (OverflowError, OSError, ValueError):
        raise Unmappable(f"'created_at' {value} is out of range") from None
    return float(value)


def _parse_json(data: Json, key: str) -> Any:
    try:
        return json.loads(_str(data, key))
    except ValueError:
        raise Unmappable(f"'{key}' is not valid JSON") from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else str(problem["msg"])
