"""Keep what a run streamed when the process running it died: replay its journal into items."""

from __future__ import annotations

from chatkit.types import (
    ErrorEvent,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)
from pydantic import TypeAdapter, ValidationError

from kithost.conversation.server import KithostChatKitServer
from kithost.core.context import RequestContext
from kithost.core.stop_reason import StopReason, current_stop_reason

_EVENT = TypeAdapter[ThreadStreamEvent](ThreadStreamEvent)

INTERRUPTED_MESSAGE = (
    "This answer was interrupted: the server running it stopped. What was written so far is "
    "saved in the thread; try again to get a complete answer."
)


def parse_event(chunk: bytes) -> ThreadStreamEvent | None:
    """One journaled SSE event (``data: {...}\\n\\n``) as the SDK's event, or None."""
    payload = chunk.removeprefix(b"data: ").strip()
    try:
        return _EVENT.validate_json(payload)
    except ValidationError:
        return None


def pending_items(server: KithostChatKitServer, chunks: list[bytes]) -> list[ThreadItem]:
    """The items a stream had started and not finished, as the SDK tracks them while streaming."""
    pending: dict[str, ThreadItem] = {}
    for chunk in chunks:
        event = parse_event(chunk)
        match event:
            case ThreadItemAddedEvent():
                pending[event.item.id] = event.item
            case ThreadItemDoneEvent() | ThreadItemReplacedEvent():
                pending.pop(event.item.id, None)
            case ThreadItemRemovedEvent():
                pending.pop(event.item_id, None)
            case ThreadItemUpdatedEvent():
                server._update_pending_items(pending, event)
    return list(pending.values())


async def save_interrupted(
    server: KithostChatKitServer, thread_id: str, chunks: list[bytes], context: RequestContext
) -> None:
    """Save the partial answer with its notice, exactly as a Stop would have, but marked."""
    thread = await server.store.load_thread(thread_id, context)
    items = pending_items(server, chunks)
    token = current_stop_reason.set(StopReason(kind="interrupt"))
    try:
        await server.handle_stream_cancelled(thread, items, context)
    finally:
        current_stop_reason.reset(token)


def interrupted_event() -> bytes:
    """The error event that ends an interrupted run's journal: resumers see it, and may retry."""
    event = ErrorEvent(code="custom", message=INTERRUPTED_MESSAGE, allow_retry=True)
    return sse(event.model_dump_json(by_alias=True, exclude_none=True).encode())


def failed_event() -> bytes:
    """The error event for a run whose stream broke off with an exception."""
    event = ErrorEvent(code="stream.error", allow_retry=True)
    return sse(event.model_dump_json(by_alias=True, exclude_none=True).encode())


def sse(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"
