"""The workflow contract: what the conversation plane hands a workflow, and what it returns.

A workflow answers one turn by yielding ChatKit stream events; the ChatKit server persists the
finished items. Built-in, Agent Builder and declarative workflows all implement this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from chatkit.actions import Action
from chatkit.store import Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
)

from kithost.core.context import RequestContext

HISTORY_PAGE = 100


@dataclass
class Turn:
    """One turn of a conversation: the thread, the new message (if any) and the caller."""

    thread: ThreadMetadata
    input: UserMessageItem | None
    context: RequestContext
    store: Store[RequestContext]

    @property
    def state_variables(self) -> dict[str, Any]:
        return dict(self.context.session.workflow.state_variables or {})

    async def history(self) -> list[ThreadItem]:
        """Every stored item of the thread, oldest first (the new message included)."""
        items: list[ThreadItem] = []
        after = None
        while True:
            page = await self.store.load_thread_items(
                self.thread.id, after, HISTORY_PAGE, "asc", self.context
            )
            items.extend(page.data)
            if not page.has_more:
                return items
            after = page.after

    def new_item_id(self) -> str:
        return self.store.generate_item_id("message", self.thread, self.context)


class Workflow(Protocol):
    """What every workflow does: answer a turn."""

    def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        """Answer the turn with stream events."""
        ...


@runtime_checkable
class ActionHandler(Protocol):
    """A workflow whose widgets send streamed actions (``threads.custom_action``)."""

    def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        """React to a widget action with stream events."""
        ...


@runtime_checkable
class SyncActionHandler(Protocol):
    """A workflow whose widgets send actions answered with no stream (`sync_custom_action`)."""

    async def sync_action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> SyncCustomActionResponse:
        """React to a widget action with at most an updated widget."""
        ...


@runtime_checkable
class ModelTitled(Protocol):
    """A workflow whose model may write thread titles."""

    @property
    def title_model(self) -> str | None:
        """The model to ask for a title; None for the first-line fallback."""
        ...


def user_text(message: UserMessageItem | None) -> str:
    """The plain text a user typed (tags included as their text)."""
    if message is None:
        return ""
    parts = [
        part.text
        for part in message.content
        if isinstance(part, UserMessageTextContent | UserMessageTagContent)
    ]
    return " ".join(text for text in parts if text).strip()


async def stream_assistant_text(
    turn: Turn, chunks: AsyncIterator[str]
) -> AsyncIterator[ThreadStreamEvent]:
    """Stream ``chunks`` as one assistant message: added, deltas, done."""
    item = AssistantMessageItem(
        id=turn.new_item_id(), thread_id=turn.thread.id, created_at=datetime.now(), content=[]
    )
    yield ThreadItemAddedEvent(item=item)
    yield ThreadItemUpdatedEvent(
        item_id=item.id,
        update=AssistantMessageContentPartAdded(
            content_index=0, content=AssistantMessageContent(text="", annotations=[])
        ),
    )
    text = ""
    async for chunk in chunks:
        text += chunk
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk),
        )
    final = AssistantMessageContent(text=text, annotations=[])
    yield ThreadItemUpdatedEvent(
        item_id=item.id, update=AssistantMessageContentPartDone(content_index=0, content=final)
    )
    yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [final]}))
