"""Thread items → Agents SDK input, with the fixes the SDK's default converter needs.

- Assistant messages become plain ``{"role": "assistant", "content": text}``: the default
  ``output_text`` parts crash the Chat Completions path on the second turn (reference §8).
- Attachments reach the model: images as data URLs (local models cannot fetch our links),
  text files inline, PDFs as files.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, cast

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
        except NotFound:
            # Metadata without bytes (e.g. imported from hosted ChatKit without its file): say
            # so rather than fail the whole turn.
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
