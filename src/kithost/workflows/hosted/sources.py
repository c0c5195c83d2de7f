"""Sources a local tool found (web results, file chunks), shown on the answer that follows.

OpenAI's hosted web search and file search mark their answer with ``url_citation`` and
``file_citation`` annotations, which ChatKit turns into ``URLSource`` and ``FileSource``
annotations on the assistant text. kithost's local tools have no citation offsets, so every
result the model was given becomes a source of the next assistant message of that run:
announced with ``annotation_added`` updates and stored with the item.
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
    FileSource,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    URLSource,
)

MAX_SOURCES = 20

FoundSource = URLSource | FileSource


def _key(source: FoundSource) -> str:
    """Sources that are the same for the reader: one URL, or one file."""
    return f"url:{source.url}" if isinstance(source, URLSource) else f"file:{source.filename}"


@dataclass
class FoundSources:
    """What the tools of one agent run found and no answer has shown yet."""

    pending: list[FoundSource] = field(default_factory=list)

    def add(self, sources: Sequence[FoundSource]) -> None:
        known = {_key(source) for source in self.pending}
        for source in sources:
            if _key(source) not in known and len(self.pending) < MAX_SOURCES:
                self.pending.append(source)
                known.add(_key(source))

    def take(self) -> list[FoundSource]:
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


def record_sources(sources: Sequence[FoundSource]) -> None:
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


def _annotate(item: AssistantMessageItem, sources: list[FoundSource]) -> list[ThreadStreamEvent]:
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
