"""Typed builders for storage tests: sessions, request contexts, ChatKit items and attachments.

Times are naive ``datetime`` values, as the ChatKit SDK makes them (``datetime.now()``); the
store keeps Unix seconds and gives naive local times back, so these round-trip exactly.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import AnyUrl

from kithost.core import ids
from kithost.core.context import RequestContext
from kithost.core.sessions import ChatKitConfiguration, ChatSession, SessionWorkflow
from kithost.core.traces import SpanRecord

with warnings.catch_warnings():
    # chatkit 1.6.5 deprecates its own widget classes as it defines them, so its first import
    # warns; under ``filterwarnings = error`` that would be a collection error.
    warnings.filterwarnings("ignore", "Direct usage of named widget", DeprecationWarning)
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        Attachment,
        EndOfTurnItem,
        FileAttachment,
        HiddenContextItem,
        ImageAttachment,
        InferenceOptions,
        SDKHiddenContextItem,
        ThreadMetadata,
        UserMessageItem,
        UserMessageTextContent,
    )

PUBLIC_URL = "https://kithost.test"
# A fixed past instant to build timelines from: whole seconds, far from any DST change.
EPOCH = 1_700_000_000.0


def unique_user() -> str:
    return f"user-{uuid.uuid4().hex}"


def unique_workflow() -> str:
    return f"wf_{uuid.uuid4().hex}"


def at(seconds: float) -> datetime:
    """The naive local time ``seconds`` after ``EPOCH``."""
    return datetime.fromtimestamp(EPOCH + seconds)


def make_session(
    user: str | None = None,
    *,
    workflow_id: str = "wf_storage_tests",
    configuration: ChatKitConfiguration | None = None,
    created_at: int | None = None,
    expires_at: int | None = None,
    cancelled_at: int | None = None,
    state_variables: dict[str, Any] | None = None,
) -> ChatSession:
    now = int(time.time())
    created = now if created_at is None else created_at
    return ChatSession(
        id=ids.session_id(),
        user=user or unique_user(),
        workflow=SessionWorkflow(
            id=workflow_id, version="3", state_variables=state_variables, tracing_enabled=False
        ),
        created_at=created,
        expires_at=created + 600 if expires_at is None else expires_at,
        max_requests_per_1_minute=25,
        configuration=configuration or ChatKitConfiguration(),
        cancelled_at=cancelled_at,
    )


def context_for(
    user: str | None = None, configuration: ChatKitConfiguration | None = None
) -> RequestContext:
    """A request context for ``user`` (a new user by default) on a session of its own."""
    return RequestContext(
        session=make_session(user, configuration=configuration), public_url=PUBLIC_URL
    )


def thread_metadata(
    created_at: datetime | None = None, *, title: str | None = None, **fields: Any
) -> ThreadMetadata:
    return ThreadMetadata(
        id=fields.pop("id", None) or ids.thread_id(),
        title=title,
        created_at=created_at or datetime.now(),
        **fields,
    )


def user_message(
    thread_id: str,
    text: str,
    created_at: datetime,
    *,
    item_id: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> UserMessageItem:
    return UserMessageItem(
        id=item_id or ids.item_id(),
        thread_id=thread_id,
        created_at=created_at,
        content=[UserMessageTextContent(text=text)],
        attachments=list(attachments),
        inference_options=InferenceOptions(),
    )


def assistant_message(
    thread_id: str, text: str, created_at: datetime, *, item_id: str | None = None
) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id or ids.item_id(),
        thread_id=thread_id,
        created_at=created_at,
        content=[AssistantMessageContent(text=text)],
    )


def hidden_context(thread_id: str, content: Any, created_at: datetime) -> HiddenContextItem:
    return HiddenContextItem(
        id=ids.item_id(), thread_id=thread_id, created_at=created_at, content=content
    )


def sdk_hidden_context(thread_id: str, content: str, created_at: datetime) -> SDKHiddenContextItem:
    return SDKHiddenContextItem(
        id=ids.item_id(), thread_id=thread_id, created_at=created_at, content=content
    )


def end_of_turn(thread_id: str, created_at: datetime) -> EndOfTurnItem:
    return EndOfTurnItem(id=ids.item_id(), thread_id=thread_id, created_at=created_at)


def file_attachment(
    name: str = "notes.pdf", *, attachment_id: str | None = None, thread_id: str | None = None
) -> FileAttachment:
    return FileAttachment(
        id=attachment_id or ids.attachment_id(),
        name=name,
        mime_type="application/pdf",
        thread_id=thread_id,
    )


def image_attachment(
    name: str = "photo.png",
    *,
    attachment_id: str | None = None,
    thread_id: str | None = None,
    preview_url: str = "https://stale.example/preview.png",
) -> ImageAttachment:
    return ImageAttachment(
        id=attachment_id or ids.attachment_id(),
        name=name,
        mime_type="image/png",
        thread_id=thread_id,
        preview_url=AnyUrl(preview_url),
    )


def span(
    thread_id: str,
    name: str,
    *,
    trace_id: str = "trace_1",
    parent_id: str | None = None,
    started_at: float | None = None,
    error: dict[str, Any] | None = None,
) -> SpanRecord:
    return SpanRecord(
        span_id=f"span_{uuid.uuid4().hex}",
        trace_id=trace_id,
        parent_id=parent_id,
        thread_id=thread_id,
        session_id="cksess_test",
        workflow_id="wf_storage_tests",
        kind="function",
        name=name,
        started_at=started_at,
        ended_at=None if started_at is None else started_at + 0.25,
        data={"name": name, "input": [1, 2, {"k": "v"}]},
        error=error,
    )
