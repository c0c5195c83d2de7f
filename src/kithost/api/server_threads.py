"""Server-side turns and thread updates (extensions): the app's backend acts in a user's chat.

``POST /v1/chatkit/threads`` starts a conversation, ``…/{thread_id}/messages`` continues one,
``…/{thread_id}/items`` leaves a notice without running anything, ``POST``/``PATCH
…/{thread_id}`` changes the title, status or metadata. Admin key only: a client secret is the
browser's and acts through the ChatKit protocol instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices, json_body, public_base_url, record_refusal
from kithost.api.openapi import created_or_streamed, json_request, ok
from kithost.api.run_streams import RUN_ID_HEADER, SSE_HEADERS, run_events
from kithost.conversation.notices import notice_item
from kithost.core.admin_auth import bearer_token
from kithost.core.errors import RateLimited
from kithost.core.secrets import hash_secret
from kithost.core.server_turns import (
    MessageCreate,
    Notice,
    ThreadCreate,
    ThreadUpdate,
    parse_notice,
)
from kithost.core.validation import parse_model
from kithost.runs.server_turns import StartedTurn
from kithost.services import Services

router = APIRouter(prefix="/v1/chatkit/threads", dependencies=[AdminKey])

THREAD_ID_HEADER = "X-Kithost-Thread-Id"


async def per_key_limit(
    services: AppServices, authorization: Annotated[str | None, Header()] = None
) -> None:
    """``KITHOST_SERVER_TURNS_PER_MINUTE``: turns one admin key may start a minute."""
    per_minute = services.settings.server_turns_per_minute
    key = bearer_token(authorization)
    if per_minute and key:
        try:
            await services.rate_limiter.hit(hash_secret(key), per_minute, scope="API key")
        except RateLimited:
            record_refusal(services, "server_turns", "")
            raise


TurnLimit = Depends(per_key_limit)


@router.post(
    "",
    operation_id="beta.chatkit.threads.create",
    status_code=201,
    dependencies=[TurnLimit],
    responses=created_or_streamed(wire.ChatKitTurn, 404, 429, 503),
    openapi_extra=json_request(ThreadCreate, "ChatKitThreadCreateParams"),
)
async def create_thread(request: Request, services: AppServices) -> Any:
    """Start a conversation for ``user``: a new thread, its first message, a run."""
    body = parse_model(ThreadCreate, await json_body(request))
    turn = await services.server_turns.start_thread(
        body, public_base_url(request, services), _request_id(request)
    )
    return await _answer(turn, services, stream=body.stream, wait=body.wait)


@router.post(
    "/{thread_id}/messages",
    operation_id="beta.chatkit.threads.create_message",
    status_code=201,
    dependencies=[TurnLimit],
    responses=created_or_streamed(wire.ChatKitTurn, 404, 409, 429, 503),
    openapi_extra=json_request(MessageCreate, "ChatKitMessageCreateParams"),
)
async def create_message(thread_id: str, request: Request, services: AppServices) -> Any:
    """The user's next message in one of their threads, and the run that answers it."""
    body = parse_model(MessageCreate, await json_body(request))
    turn = await services.server_turns.continue_thread(
        thread_id, body, public_base_url(request, services), _request_id(request)
    )
    return await _answer(turn, services, stream=body.stream, wait=body.wait)


@router.post(
    "/{thread_id}/items",
    operation_id="beta.chatkit.threads.create_item",
    responses=ok(wire.ChatKitThreadItem, 404),
    openapi_extra=json_request(Notice, "ChatKitNoticeParams"),
)
async def create_item(thread_id: str, request: Request, services: AppServices) -> Any:
    """Add an assistant message or a widget without running anything: a notice the user sees
    the next time the chat loads the thread."""
    notice = parse_notice(await json_body(request))
    record = await services.threads.add_item(notice_item(thread_id, notice))
    return record.to_wire()


@router.post(
    "/{thread_id}",
    operation_id="beta.chatkit.threads.update",
    responses=ok(wire.ChatKitThreadWithMetadata, 404),
    openapi_extra=json_request(ThreadUpdate, "ChatKitThreadUpdateParams"),
)
async def update_thread(thread_id: str, request: Request, services: AppServices) -> Any:
    """Change the title, status (``active``, ``locked``, ``closed``) or metadata."""
    update = parse_model(ThreadUpdate, await json_body(request))
    return (await services.threads.update(thread_id, update)).to_extended_wire()


router.add_api_route(
    "/{thread_id}",
    update_thread,
    methods=["PATCH"],
    operation_id="beta.chatkit.threads.patch",
    responses=ok(wire.ChatKitThreadWithMetadata, 404),
    openapi_extra=json_request(ThreadUpdate, "ChatKitThreadUpdateParams"),
    summary="Update Thread (PATCH)",
)


async def _answer(turn: StartedTurn, services: Services, *, stream: bool, wait: bool) -> Any:
    """The run's events as they come; or, once the user's message (or, with ``wait``, the
    whole answer) is saved, the thread, the run and the turn's items."""
    headers = {RUN_ID_HEADER: turn.run.id, THREAD_ID_HEADER: turn.thread.id}
    if stream:
        # Detached: closing this connection does not stop the run (POST …/runs/{id}/cancel does).
        body = run_events(services.runs, turn.run.record, 0, numbered=True)
        return StreamingResponse(
            body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
        )
    if wait:
        await services.server_turns.ended(turn)
    else:
        await services.server_turns.accepted(turn)
    thread, run, items = await services.server_turns.outcome(turn)
    rendered = [wired for item in items if (wired := item.to_wire()) is not None]
    document = {
        "object": "chatkit.turn",
        "thread": thread.to_extended_wire(),
        "run": run.to_wire(),
        "items": rendered,
    }
    return JSONResponse(document, status_code=201, headers=headers)


def _request_id(request: Request) -> str | None:
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id
