"""Give every item a model produced a kithost id.

The Chat Completions path names every assistant item ``__fake_id__`` (chatkit-python #36), so
items overwrote each other; the Responses path uses the model's own ids. Both become ``cti_…``
ids, one per item, in the hosted format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from chatkit.types import (
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

from kithost.core.ids import ITEM_PREFIX


async def with_kithost_item_ids(
    events: AsyncIterator[ThreadStreamEvent], new_id: Callable[[], str]
) -> AsyncIterator[ThreadStreamEvent]:
    """Rewrite foreign item ids; an id reused after its item is done gets a fresh one."""
    live: dict[str, str] = {}

    def mapped(original: str, *, start: bool = False) -> str:
        if original.startswith(ITEM_PREFIX):
            return original
        if start or original not in live:
            live[original] = new_id()
        return live[original]

    async for event in events:
        if isinstance(event, ThreadItemAddedEvent):
            event.item.id = mapped(event.item.id, start=True)
        elif isinstance(event, ThreadItemUpdatedEvent):
            event.item_id = mapped(event.item_id)
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemReplacedEvent):
            original = event.item.id
            event.item.id = mapped(original)
            live.pop(original, None)
        elif isinstance(event, ThreadItemRemovedEvent):
            event.item_id = live.pop(event.item_id, event.item_id)
        yield event
