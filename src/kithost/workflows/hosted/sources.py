"""Sources a local tool found (web search results), shown on the answer that follows them.

OpenAI's hosted web search marks its answer with ``url_citation`` annotations, which ChatKit
turns into ``URLSource`` annotations on the assistant text. kithost's local web search has no
citation offsets, so every result the model was given becomes a source of the next assistant
message of that run: announced with ``annotation_added`` updates and stored with the item.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from chatkit.types import (
    Annotation,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    URLSource,
)

MAX_SOURCES = 20


@dataclass
class FoundSources:
    """What the tools of one agent run found and no answer has shown yet."""

    pending: list[URLSource] = field(default_factory=list)

    def add(self, sources: Sequence[URLSource]) -> None:
        known = {source.url for source in self.pending}
        for source in sources:
            if source.url not in known and len(self.pending) < MAX_SOURCES:
                self.pending.append(source)
                known.add(source.url)

    def take(self) -> list[URLSource]:
        taken, self.pending = self.pending, []
        return taken


_FOUND: contextvars.ContextVar[FoundSources | None] = contextvars.ContextVar(
    "kithost_found_sources", default=None
)


@contextmanager
def collecting_sources() -> Iterator[FoundSources]:
    """Collect the sources of the agent run started inside this block.

    The run's task copies the context when it starts, so its tools see this collection.
    """
    found = FoundSources()
    token = _FOUND.set(found)
    try:
        yield found
    finally:
        _FOUND.reset(token)


def record_sources(sources: Sequence[URLSource]) -> None:
    """Called by a tool: show ``sources`` on the answer (a no-op outside a streamed run)."""
    found = _FOUND.get()
    if found is not None:
        found.add(sources)


async def with_sources(
    events: AsyncIterator[ThreadStreamEvent], found: FoundSources
) -> AsyncIterator[ThreadStreamEvent]:
    """Pass ``events`` on; a finished assistant message first gets the pending sources."""
    async for event in events:
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            for update in _annotate(event.item, found.take()):
                yield update
        yield event


def _annotate(item: AssistantMessageItem, sources: list[URLSource]) -> list[ThreadStreamEvent]:
    if not sources or not item.content:
        return []
    part = item.content[-1]
    index = len(item.content) - 1
    updates: list[ThreadStreamEvent] = []
    for source in sources:
        annotation = Annotation(source=source, index=None)
        part.annotations.append(annotation)
        updates.append(
            ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartAnnotationAdded(
                    content_index=index,
                    annotation_index=len(part.annotations) - 1,
                    annotation=annotation,
                ),
            )
        )
    return updates
