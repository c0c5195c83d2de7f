"""kithost's ``ChatKitServer``: routes each turn to the session's workflow.

Persistence, events and the protocol are the SDK's; what kithost adds is choosing the workflow,
titling threads (while the first answer streams: titles.py), keeping partial answers safe when a
stream is cancelled, and widget actions.
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

from kithost.conversation.titles import ThreadTitles
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
        self.titles = ThreadTitles(agents.title, store)

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
        titling = self._needs_title(thread, input_user_message, context)
        if titling:
            # The title needs only this message: the model writes it while the answer streams.
            self.titles.begin(thread.id, user_text(input_user_message), self._title_model(runnable))
        try:
            # A turn that asks for an approval ends its stream with the card; its run is parked.
            async for event in self.approvals.watch(thread.id, runnable.respond(turn)):
                yield event
        except CustomStreamError:
            self.titles.discard(thread.id)
            raise
        except GeneratorExit:  # closed unfinished, with no Stop to title the thread
            self.titles.discard(thread.id)
            raise
        except Exception as error:
            self.titles.discard(thread.id)
            failure = classify_failure(error)
            # One line, redacted, no traceback: tracebacks quote source lines and tool reprs.
            log.warning(
                "workflow %s failed on thread %s: %s",
                context.session.workflow.id,
                thread.id,
                failure.log_line,
            )
            raise CustomStreamError(failure.message, allow_retry=failure.allow_retry) from None
        # On Stop, cancellation skips this: handle_stream_cancelled titles the thread instead.
        if titling:
            title = await self.titles.at_answer_end(thread.id, context)
            if title and not thread.title:
                thread.title = title  # the SDK saves it and emits thread.updated

    def _needs_title(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: RequestContext
    ) -> bool:
        """The first exchange of a thread to title (an untitled thread's first user message)."""
        return (
            message is not None
            and not thread.title
            and context.session.configuration.titling_enabled
            and not self.titles.pending(thread.id)
        )

    def _title_model(self, runnable: Workflow) -> str | None:
        """The model that writes titles for this workflow; None for the first-line title."""
        if not self.agents.configured or not isinstance(runnable, ModelTitled):
            return None
        return runnable.title_model

    async def aclose(self) -> None:
        """At shutdown, after the runs: titles still being written end (see titles.py)."""
        await self.titles.close()

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
            # A stopped first exchange is still titled: the model's title if already written.
            title = self.titles.at_stop(thread.id)
            if title and not thread.title:
                thread.title = title
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
