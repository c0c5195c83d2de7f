"""Thread items → Agents SDK input, with the fixes the SDK's default converter needs.

- Assistant messages become plain ``{"role": "assistant", "content": text}``: the default
  ``output_text`` parts crash the Chat Completions path on the second turn (reference §8).
- Attachments reach the model: images as data URLs (local models cannot fetch our links),
  text files inline, PDFs as files (on Chat Completions, which compatible servers cannot give
  a file, a note names the file instead). An attachment without bytes (imported from hosted
  ChatKit without its file) becomes a note, never a failed turn.
- The current turn's attachments join the user message an export builds itself from
  ``input_as_text`` (exports never see attachments).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, cast

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import AssistantMessageItem, Attachment, UserMessageTagContent

from kithost.core.errors import NotFound

# Reads an attachment's bytes by id.
ReadBytes = Callable[[str], Awaitable[bytes]]

TEXT_LIKE = ("text/", "application/json")
MAX_INLINE_TEXT = 200_000


class HistoryConverter(ThreadItemConverter):
    def __init__(self, read_bytes: ReadBytes):
        self._read_bytes = read_bytes

    async def assistant_message_to_input(
        self, item: AssistantMessageItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        text = "".join(part.text for part in item.content)
        return cast(TResponseInputItem, {"type": "message", "role": "assistant", "content": text})

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> Any:
        return {"type": "input_text", "text": f"@{tag.text}"}

    async def attachment_to_message_content(self, attachment: Attachment) -> Any:
        try:
            data = await self._read_bytes(attachment.id)
        except (NotFound, FileNotFoundError):
            # Metadata without bytes (e.g. imported from hosted ChatKit without its file), or
            # bytes gone from disk: say so rather than fail the whole turn.
            missing = f"{attachment.name} ({attachment.mime_type})"
            return {"type": "input_text", "text": f"[Attached file {missing} is not available.]"}
        mime = attachment.mime_type
        if attachment.type == "image":
            encoded = base64.b64encode(data).decode("ascii")
            return {
                "type": "input_image",
                "image_url": f"data:{mime};base64,{encoded}",
                "detail": "auto",
            }
        if mime.startswith(TEXT_LIKE):
            text = data[:MAX_INLINE_TEXT].decode("utf-8", errors="replace")
            return {"type": "input_text", "text": f"Attached file {attachment.name}:\n{text}"}
        encoded = base64.b64encode(data).decode("ascii")
        return {
            "type": "input_file",
            "filename": attachment.name,
            "file_data": f"data:{mime};base64,{encoded}",
        }


def with_attachments(
    items: Sequence[TResponseInputItem], parts: Sequence[Any], text: str
) -> list[TResponseInputItem]:
    """``items`` with ``parts`` added to the user message that says ``text`` (else the last
    user message; else a new one). Parts already there are not added twice; nothing is
    changed in place (an export reuses its ``conversation_history`` for every agent)."""
    result = list(items)
    if not parts:
        return result
    users = [i for i, item in enumerate(result) if _is_user_message(item)]
    wanted = text.strip()
    index = next(
        (i for i in reversed(users) if _message_text(result[i]) == wanted),
        users[-1] if users else None,
    )
    if index is None:
        result.append(cast(TResponseInputItem, {"role": "user", "content": list(parts)}))
        return result
    message = cast(dict[str, Any], result[index])
    content = _content_parts(message.get("content"))
    added = [part for part in parts if part not in content]
    result[index] = cast(TResponseInputItem, {**message, "content": [*content, *added]})
    return result


def fit_to_api(
    items: Sequence[TResponseInputItem], api: Literal["responses", "chat_completions"]
) -> list[TResponseInputItem]:
    """On Chat Completions, file parts become a note: compatible servers take no files."""
    if api != "chat_completions":
        return list(items)
    fitted: list[TResponseInputItem] = []
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list) and any(_is_file_part(part) for part in content):
            parts = [_file_note(part) if _is_file_part(part) else part for part in content]
            item = cast(TResponseInputItem, {**cast(dict[str, Any], item), "content": parts})
        fitted.append(item)
    return fitted


def _is_user_message(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("role") == "user"
        and item.get("type", "message") == "message"
    )


def _message_text(item: Any) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content.strip()
    return "".join(
        str(part.get("text", ""))
        for part in _content_parts(content)
        if isinstance(part, dict) and part.get("type") == "input_text"
    ).strip()


def _content_parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    return list(content) if isinstance(content, list) else []


def _is_file_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "input_file"


def _file_note(part: dict[str, Any]) -> dict[str, Any]:
    name = part.get("filename") or "a file"
    data = str(part.get("file_data") or "")
    mime = data[5:].split(";", 1)[0] if data.startswith("data:") else ""
    described = f"{name} ({mime})" if mime else str(name)
    return {
        "type": "input_text",
        "text": f"[Attached file {described}: this model provider cannot read files of this "
        "kind, so only its name is given.]",
    }
