"""kithost's ``ChatKitServer``: routes each turn to the session's workflow.

Persistence, events and the protocol are the SDK's; what kithost adds is choosing the workflow,
titling threads, keeping partial answers safe when a stream is cancelled, and widget actions.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore
from chatkit.types import (
    AssistantMessageItem,
    ChatKitReq,
    FeedbackKind,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)

from kithost.conversation.titles import fallback_title
from kithost.core.context import RequestContext
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.stop_reason import INTERRUPTED_NOTICE, interrupted
from kithost.store.chatkit_store import SqlChatKitStore
from kithost.workflows.agent_services import AgentServices
from kithost.workflows.approvals import Approvals, is_approval_action
from kithost.workflows.base import (
    ActionHandler,
    ModelTitled,
    SyncActionHandler,
    Turn,
    Workflow,
    user_text,
)
from kithost.workflows.failures import classify_failure
from kithost.workflows.registry import WorkflowRegistry

log = logging.getLogger("kithost.conversation")


class KithostChatKitServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SqlChatKitStore,
        attachment_store: AttachmentStore[RequestContext],
        workflows: WorkflowRegistry,
        agents: AgentServices,
        approvals: Approvals | None = None,
    ):
        super().__init__(store, attachment_store)
        self.workflows = workflows
        self.agents = agents
        # Runs parked on an approval card (workflows/approvals.py), shared with the MCP tools.
        self.approvals = approvals if approvals is not None else Approvals()
        self._untitled_inputs: dict[str, str] = {}

    async def process_request(
        self, request: ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """``process`` for a request kithost has already validated.

        The SDK's ``process`` builds the whole request schema again on every call (~4 ms of
        CPU, BENCHMARKS.md fix 1); dispatching the parsed request skips that.
        """
        if is_streaming_req(request):
            return StreamingResult(self._process_streaming(request, context))
        return NonStreamingResult(await self._process_non_streaming(request, context))

    def sse(self, event: ThreadStreamEvent) -> bytes:
        """One event as the SDK writes it into a stream, byte for byte."""
        return b"data: " + self._serialize(event) + b"\n\n"

    def _runnable(self, context: RequestContext) -> Workflow:
        workflow = context.session.workflow
        try:
            return self.workflows.resolve(workflow.id, workflow.version).runnable
        except NotFound as error:
            # The workflow was removed from the folder after the session was created.
            raise CustomStreamError(error.message, allow_retry=False) from None

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = Turn(thread=thread, input=input_user_message, context=context, store=self.store)
        # Anything new in the thread is the user's Stop for a run parked on an approval card.
        for event in await self.approvals.cancel_parked(thread.id, self.store, context):
            yield event
        runnable = self._runnable(context)
        if input_user_message is not None:
            # Kept in case of Stop, so that a cancelled first exchange still titles the thread.
            self._untitled_inputs[thread.id] = user_text(input_user_message)
        try:
            # A turn that asks for an approval ends its stream with the card; its run is parked.
            async for event in self.approvals.watch(thread.id, runnable.respond(turn)):
                yield event
        except CustomStreamError:
            self._untitled_inputs.pop(thread.id, None)
            raise
        except Exception as error:
            self._untitled_inputs.pop(thread.id, None)
            failure = classify_failure(error)
            # One line, redacted, no traceback: tracebacks quote source lines and tool reprs.
            log.warning(
                "workflow %s failed on thread %s: %s",
                context.session.workflow.id,
                thread.id,
                failure.log_line,
            )
            raise CustomStreamError(failure.message, allow_retry=failure.allow_retry) from None
        # On Stop, cancellation skips this: handle_stream_cancelled takes the entry instead.
        self._untitled_inputs.pop(thread.id, None)
        await self._title(thread, input_user_message, context, runnable)

    async def _title(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        context: RequestContext,
        runnable: Workflow,
    ) -> None:
        """Title the thread after its first exchange; the SDK then emits ``thread.updated``.

        The workflow's model writes it when there is one; otherwise the first line of the
        message does.
        """
        if thread.title or message is None:
            return
        if not context.session.configuration.titling_enabled:
            return
        text = user_text(message)
        model = runnable.title_model if isinstance(runnable, ModelTitled) else None
        title = await self.agents.title(text, model) if model else None
        thread.title = title or fallback_title(text)

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if is_approval_action(action):
            return self._answer_approval(thread, action, sender, context)
        runnable = self._runnable(context)
        if not isinstance(runnable, ActionHandler):
            raise CustomStreamError(
                "This workflow does not handle widget actions.", allow_retry=False
            )
        turn = Turn(thread=thread, input=None, context=context, store=self.store)
        events: AsyncIterator[ThreadStreamEvent] = runnable.action(turn, action, sender)
        return events

    async def _answer_approval(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Approve / Deny on an approval card: the parked run goes on in this stream."""
        try:
            async for event in self.approvals.answer(thread.id, action, sender):
                yield event
        except CustomStreamError:
            raise
        except Exception as error:
            failure = classify_failure(error)
            log.warning(
                "workflow %s failed on thread %s: %s",
                context.session.workflow.id,
                thread.id,
                failure.log_line,
            )
            raise CustomStreamError(failure.message, allow_retry=failure.allow_retry) from None

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        if is_approval_action(action):
            # The rest of the parked run must stream: a non-streaming answer has nowhere to go.
            raise InvalidRequest(
                "Answer an approval card with threads.custom_action (a streaming action).",
                param="params.action",
                code="approval_needs_streaming",
            )
        runnable = self._runnable(context)
        if not isinstance(runnable, SyncActionHandler):
            return SyncCustomActionResponse(updated_item=None)
        turn = Turn(thread=thread, input=None, context=context, store=self.store)
        response: SyncCustomActionResponse = await runnable.sync_action(turn, action, sender)
        if response.updated_item is not None:
            # The SDK does not persist the updated item; do it so a reload shows it.
            await self.store.save_item(thread.id, response.updated_item, context)
        return response

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        # The client went away, so this task is being cancelled; shield the writes that keep
        # the partial answer, or the next await would be cancelled too and lose it.
        if interrupted():
            # The server, not the user, cut this answer short: say so in the saved text.
            pending_items = [
                assistant_with_notice(item, INTERRUPTED_NOTICE)
                if isinstance(item, AssistantMessageItem)
                else item
                for item in pending_items
            ]
        with anyio.CancelScope(shield=True):
            await super().handle_stream_cancelled(thread, pending_items, context)
            text = self._untitled_inputs.pop(thread.id, None)
            if text and not thread.title and context.session.configuration.titling_enabled:
                thread.title = fallback_title(text)
                await self.store.save_thread(thread, context)

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        store = self.store
        assert isinstance(store, SqlChatKitStore)
        await store.record_feedback(thread_id, item_ids, feedback, context)


def assistant_with_notice(item: AssistantMessageItem, notice: str) -> AssistantMessageItem:
    """The partial answer, with a line that says it was cut off."""
    copy = item.model_copy(deep=True)
    if copy.content:
        copy.content[-1].text = copy.content[-1].text.rstrip() + "\n\n" + notice
    return copy
