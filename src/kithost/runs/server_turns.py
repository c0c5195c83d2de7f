"""Server-side turns: the app's backend posts the user's message and a run answers it.

A turn made here is the same run a browser starts — same workflow, journal, Stop, webhooks —
on a thread owned by the user, so their next chat session lists it and carries on. What differs
is who asks: the backend, with an admin key, on the user's behalf. Each turn opens a session of
its own for the user (its client secret is never issued), so that the workflow, its version, its
state variables and the session's settings apply exactly as they do to a browser's turn.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chatkit.server import NonStreamingResult
from chatkit.types import (
    ActiveStatus,
    Page,
    Thread,
    ThreadAddUserMessageParams,
    ThreadCreatedEvent,
    ThreadsAddUserMessageReq,
    UserMessageInput,
)
from pydantic import ValidationError

from kithost.conversation.service import ConversationService
from kithost.core import ids
from kithost.core.context import RequestContext
from kithost.core.errors import InvalidRequest, KithostError
from kithost.core.pagination import ListParams
from kithost.core.server_turns import (
    MessageCreate,
    MessageInput,
    ThreadCreate,
    WorkflowChoice,
)
from kithost.core.session_service import SessionService
from kithost.core.thread_service import ThreadService, not_found
from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.runs.live import LiveRun
from kithost.runs.manager import RunManager
from kithost.runs.model import RunRecord

ITEM_DONE = b'data: {"type":"thread.item.done"'
PROTOCOL_PARAMS = "params."
MAX_TURN_ITEMS = 100


@dataclass(frozen=True)
class StartedTurn:
    thread: ThreadRecord
    run: LiveRun
    # The thread's newest item before the turn: the turn's items are those after it.
    items_after: str | None


class ServerTurns:
    def __init__(
        self,
        sessions: SessionService,
        threads: ThreadService,
        conversation: ConversationService,
        runs: RunManager,
    ):
        self._sessions = sessions
        self._threads = threads
        self._conversation = conversation
        self._runs = runs

    async def start_thread(
        self, body: ThreadCreate, public_url: str, request_id: str | None
    ) -> StartedTurn:
        """A new thread for ``body.user``, its first message, and the run that answers it."""
        body.check()
        workflow = body.workflow.model_dump(exclude_none=True)
        context = await self._open(body.user, workflow, body, public_url, request_id)
        with _named_as_in_this_body():
            attachments = body.input.to_protocol()["attachments"]  # repeats dropped
            await self._conversation.check_attachments(attachments, context)
        self._runs.check_accepting()
        session = context.session
        thread = ThreadRecord(
            id=ids.thread_id(),
            user=body.user,
            created_at=time.time(),
            title=body.title,
            session_id=session.id,
            workflow_id=session.workflow.id,
            metadata=dict(body.metadata or {}),
        )
        await self._threads.create(thread)
        try:
            live = await self._start(thread, body.input, context, announce=True)
        except BaseException:
            # Nothing of the thread was used; leave no empty thread behind.
            await self._threads.delete(thread.id)
            raise
        return StartedTurn(thread=thread, run=live, items_after=None)

    async def continue_thread(
        self, thread_id: str, body: MessageCreate, public_url: str, request_id: str | None
    ) -> StartedTurn:
        """The user's next message in one of their threads, and the run that answers it."""
        body.check()
        thread = await self._threads.get(thread_id)
        if thread.user != body.user:
            # Another user's thread does not exist, as far as this user is concerned.
            raise not_found(thread_id)
        workflow = _workflow_for(thread, body.workflow)
        context = await self._open(body.user, workflow, body, public_url, request_id)
        before = await self._threads.newest_item_id(thread_id)
        live = await self._start(thread, body.input, context, announce=False)
        return StartedTurn(thread=thread, run=live, items_after=before)

    async def accepted(self, turn: StartedTurn) -> None:
        """Wait until the user's message is saved (the run's first finished item), or the
        run ended before that."""
        async for _, event in self._runs.follow(turn.run.record, 0):
            if event.startswith(ITEM_DONE):
                return

    async def ended(self, turn: StartedTurn) -> None:
        await turn.run.wait_done()

    async def outcome(self, turn: StartedTurn) -> tuple[ThreadRecord, RunRecord, list[ItemRecord]]:
        """The thread, the run and the turn's items, as they stand now."""
        thread = await self._threads.get(turn.thread.id)
        run = await self._runs.get(turn.run.id) or turn.run.record
        params = ListParams(limit=MAX_TURN_ITEMS, order="asc", after=turn.items_after)
        items = await self._threads.list_items(thread.id, params)
        return thread, run, items.data

    async def _open(
        self,
        user: str,
        workflow: dict[str, Any],
        body: ThreadCreate | MessageCreate,
        public_url: str,
        request_id: str | None,
    ) -> RequestContext:
        request: dict[str, Any] = {"user": user, "workflow": workflow}
        if body.chatkit_configuration is not None:
            request["chatkit_configuration"] = body.chatkit_configuration.model_dump()
        session, _secret = await self._sessions.create(request)
        return RequestContext(session=session, public_url=public_url, request_id=request_id)

    async def _start(
        self,
        thread: ThreadRecord,
        message: MessageInput,
        context: RequestContext,
        *,
        announce: bool,
    ) -> LiveRun:
        try:
            user_input = UserMessageInput.model_validate(message.to_protocol())
        except ValidationError as error:
            raise InvalidRequest(
                f"Invalid 'input': {error.errors()[0]['msg']}.", param="input"
            ) from None
        request = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread.id, input=user_input)
        )
        with _named_as_in_this_body():
            result = await self._conversation.process(request, context)
            assert not isinstance(result, NonStreamingResult)
            turn = result
            if announce:
                # The stream of a new thread starts as a browser's would: with ``thread.created``.
                created = self._conversation.server.sse(ThreadCreatedEvent(thread=_thread(thread)))
                turn = replace(
                    turn, events=_after(created, turn.events), request_type="threads.create"
                )
            # A busy thread is found here (``run_in_progress``), named as the protocol names it.
            return await self._runs.start_run(turn, context)


@contextmanager
def _named_as_in_this_body() -> Iterator[None]:
    """The protocol's checks name the protocol's fields (``params.input…``); this body has the
    same fields one level up."""
    try:
        yield
    except KithostError as error:
        if error.param and error.param.startswith(PROTOCOL_PARAMS):
            error.param = error.param.removeprefix(PROTOCOL_PARAMS)
            error.message = error.message.replace(f"'{PROTOCOL_PARAMS}", "'")
        raise


def _workflow_for(thread: ThreadRecord, choice: WorkflowChoice | None) -> dict[str, Any]:
    """The workflow a follow-up runs: the one given, else the thread's own (latest version)."""
    given = choice.model_dump(exclude_none=True) if choice else {}
    if "id" not in given:
        if thread.workflow_id is None:
            raise InvalidRequest(
                f"Thread '{thread.id}' has no workflow on record: give 'workflow.id'.",
                param="workflow.id",
                code="missing_required_parameter",
            )
        given["id"] = thread.workflow_id
    return given


def _thread(record: ThreadRecord) -> Thread:
    return Thread(
        id=record.id,
        title=record.title,
        created_at=datetime.fromtimestamp(record.created_at),
        status=ActiveStatus(),
        items=Page(),
    )


async def _after(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for event in rest:
        yield event
