"""Tool calls that wait for the user's approval, and the runs parked meanwhile.

A tool that needs approval calls ``Approvals.ask`` from inside the run: the approval card goes
into the chat and the call waits. The turn's stream then **ends with the card**, while the run
stays parked in this process's memory, waiting; the ``threads.custom_action`` request that
answers the card resumes the parked run and streams the rest of it (the model's answer). A
stream that ends is what chatkit-js and kithost's chat need: neither sends an action while a
response is still streaming. A reload shows the card, which can still be answered.

A parked run ends without its answer when:
- nobody answers within the timeout (``KITHOST_MCP_APPROVAL_TIMEOUT``): the card says
  "Expired", and nothing was sent (a denial, with nobody left to tell);
- anything new arrives in the thread (a message, a retry): that is the user's Stop; the card
  says "Cancelled".
An answer to an approval this process does not know (expired, already answered, or parked by a
process that has since restarted) gets a clear error event. Parked runs live in one process:
behind a load balancer, route a thread's requests to one process (sticky sessions).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadStreamEvent,
    WidgetItem,
)

from kithost.core.context import RequestContext
from kithost.workflows.approval_widget import (
    APPROVAL_ACTION,
    ApprovalRequest,
    Decision,
    approval_id_of,
    decided_card,
    pending_card,
)
from kithost.workflows.runtime import optional_runtime

log = logging.getLogger("kithost.workflows")

DEFAULT_TIMEOUT_SECONDS = 600.0

# What the model is told when a call did not run.
NOT_RUN: dict[Decision, str] = {
    "denied": "The user denied this tool call, so it did not run. Answer without its result.",
    "expired": "Nobody approved this tool call in time, so it did not run.",
    "cancelled": "The user moved on before approving this tool call, so it did not run.",
}


@dataclass
class _Pending:
    """One approval waiting for an answer."""

    id: str
    thread_id: str
    widget: WidgetItem
    decision: asyncio.Future[Decision]
    store: Store[RequestContext]
    context: RequestContext
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Parked:
    """The rest of a turn's stream, waiting for ``approval_id``'s answer."""

    events: AsyncIterator[ThreadStreamEvent]
    approval_id: str


@dataclass
class Approvals:
    """Every approval waiting in this process, and the runs parked on them."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _parked: dict[str, _Parked] = field(default_factory=dict)  # by thread id
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    async def ask(self, request: ApprovalRequest) -> Decision:
        """Show the approval card in the current turn's chat and wait for the answer."""
        runtime = optional_runtime()
        if runtime is None:  # not in a chat turn: nobody to ask
            return "denied"
        turn = runtime.turn
        approval_id = f"apr_{secrets.token_hex(12)}"
        widget = WidgetItem(
            id=turn.new_item_id(),
            thread_id=turn.thread.id,
            created_at=datetime.now(),
            widget=pending_card(approval_id, request),
            copy_text=f"Approval asked for {request.tool_name} on {request.server_label}",
        )
        loop = asyncio.get_running_loop()
        pending = _Pending(
            approval_id, turn.thread.id, widget, loop.create_future(), turn.store, turn.context
        )
        pending.timer = loop.call_later(self.timeout_seconds, self._expire, approval_id)
        self._pending[approval_id] = pending
        try:
            await runtime.emit(ThreadItemDoneEvent(item=widget))
            decision = await pending.decision
        finally:
            # Also on cancellation (Stop, or the parked run closed): forget it.
            self._forget(approval_id)
        if decision == "expired":
            # Decided with no answer stream (the turn's own was still open): show it there.
            await runtime.emit(ThreadItemReplacedEvent(item=decided_card(widget, decision)))
        return decision

    async def watch(
        self, thread_id: str, events: AsyncIterator[ThreadStreamEvent]
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Stream ``events``; after an approval card, park the rest and end the stream."""
        async for event in events:
            yield event
            pending = self._awaited_by(event)
            if pending is not None and pending.thread_id == thread_id:
                self._parked[thread_id] = _Parked(events, pending.id)
                return

    async def answer(
        self, thread_id: str, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Apply the user's Approve / Deny and stream the rest of the parked run."""
        payload = action.payload if isinstance(action.payload, dict) else {}
        approval_id, choice = payload.get("approval_id"), payload.get("decision")
        if choice not in ("approve", "deny"):
            raise CustomStreamError("This approval answer is malformed.", allow_retry=False)
        pending = self._pending.get(approval_id) if isinstance(approval_id, str) else None
        if pending is None or pending.thread_id != thread_id or pending.decision.done():
            stale = approval_id_of(sender) if sender is not None else None
            if sender is not None and stale is not None and stale not in self._pending:
                # A card nobody can answer any more (e.g. the process restarted): close it.
                yield ThreadItemReplacedEvent(item=decided_card(sender, "expired"))
            raise CustomStreamError(
                "This approval request is no longer waiting: it expired or was already "
                "answered. Send your message again to retry.",
                allow_retry=False,
            )
        parked = self._parked.get(thread_id)
        resumes = parked is not None and parked.approval_id == pending.id
        if resumes:
            del self._parked[thread_id]
        decision: Decision = "approved" if choice == "approve" else "denied"
        pending.decision.set_result(decision)
        # First, at once: another card of the run may park it again before the call returns.
        yield ThreadItemReplacedEvent(item=decided_card(pending.widget, decision))
        if parked is None or not resumes:
            return  # the run is still streaming elsewhere; that stream shows the rest
        async for event in self.watch(thread_id, parked.events):
            yield event

    async def cancel_parked(
        self, thread_id: str, store: Store[RequestContext], context: RequestContext
    ) -> list[ThreadStreamEvent]:
        """Stop the thread's parked run (something new arrived); the card's update to show."""
        parked = self._parked.pop(thread_id, None)
        if parked is None:
            return []
        pending = self._pending.get(parked.approval_id)
        self._forget(parked.approval_id)
        await _close(parked.events)
        if pending is None:
            return []
        try:  # a retry may have deleted the card already
            await store.load_item(thread_id, pending.widget.id, context)
        except NotFoundError:
            return []
        return [ThreadItemReplacedEvent(item=decided_card(pending.widget, "cancelled"))]

    def _awaited_by(self, event: ThreadStreamEvent) -> _Pending | None:
        """The undecided approval whose card ``event`` delivers, if any."""
        if not isinstance(event, ThreadItemDoneEvent) or not isinstance(event.item, WidgetItem):
            return None
        approval_id = approval_id_of(event.item)
        pending = self._pending.get(approval_id) if approval_id else None
        return pending if pending is not None and not pending.decision.done() else None

    def _expire(self, approval_id: str) -> None:
        pending = self._pending.get(approval_id)
        if pending is None or pending.decision.done():
            return
        parked = self._parked.get(pending.thread_id)
        if parked is None or parked.approval_id != approval_id:
            # Its stream is still open: the run goes on, and the model is told.
            pending.decision.set_result("expired")
            return
        del self._parked[pending.thread_id]
        self._forget(approval_id)
        log.info("approval %s expired; the run parked on it ends", approval_id)
        task = asyncio.create_task(self._close_expired(parked, pending))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_expired(self, parked: _Parked, pending: _Pending) -> None:
        await _close(parked.events)
        try:
            item = decided_card(pending.widget, "expired")
            await pending.store.save_item(pending.thread_id, item, pending.context)
        except Exception as error:  # the thread may be gone
            log.info("expired approval card not updated: %s", type(error).__name__)

    def _forget(self, approval_id: str) -> None:
        pending = self._pending.pop(approval_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()


def is_approval_action(action: Action[str, Any]) -> bool:
    return action.type == APPROVAL_ACTION


async def _close(events: AsyncIterator[ThreadStreamEvent]) -> None:
    """End a parked stream: closing it cancels the run behind it."""
    if isinstance(events, AsyncGenerator):
        await events.aclose()
