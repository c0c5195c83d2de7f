"""Items an app's backend adds to a thread without running anything (notices).

They are stored as the protocol's own items, so the chat shows them like any answer the next
time it loads the thread.
"""

from __future__ import annotations

from datetime import datetime

from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItem, WidgetItem
from pydantic import ValidationError

from kithost.core import ids
from kithost.core.errors import InvalidRequest
from kithost.core.server_turns import AssistantNotice, Notice
from kithost.core.threads import ItemRecord
from kithost.store.chatkit_store import item_record


def notice_item(thread_id: str, notice: Notice) -> ItemRecord:
    common = {"id": ids.item_id(), "thread_id": thread_id, "created_at": datetime.now()}
    item: ThreadItem
    try:
        if isinstance(notice, AssistantNotice):
            content = [
                AssistantMessageContent.model_validate(p.model_dump()) for p in notice.content
            ]
            item = AssistantMessageItem(**common, content=content)
        else:
            item = WidgetItem.model_validate(
                {**common, "widget": notice.widget, "copy_text": notice.copy_text}
            )
    except ValidationError as error:
        raise _invalid(notice, error) from None
    return item_record(thread_id, item)


def _invalid(notice: Notice, error: ValidationError) -> InvalidRequest:
    """The first problem the protocol's own models found, named by where it is."""
    problem = error.errors()[0]
    field = "content" if isinstance(notice, AssistantNotice) else "widget"
    where = ".".join(str(part) for part in problem["loc"])
    return InvalidRequest(
        f"Invalid '{field}': {problem['msg']}" + (f" (at '{where}')." if where else "."),
        param=field,
        code=f"invalid_{field}",
    )
