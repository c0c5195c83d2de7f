"""Runs (an extension): read, follow and stop a streamed turn from any process.

The browser reaches these with the session's client secret and sees only its user's runs; the
app's backend uses an admin key and sees all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AppServices, client_context, require_admin_key
from kithost.api.listing import ListQuery
from kithost.api.openapi import EITHER_CREDENTIAL, event_stream_responses, ok
from kithost.api.run_streams import RUN_ID_HEADER, SSE_HEADERS, run_events
from kithost.core.admin_auth import bearer_token
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.limits import check_ids
from kithost.core.secrets import CLIENT_SECRET_PREFIX
from kithost.runs.model import RUN_PREFIX, RunRecord

router = APIRouter()


@dataclass(frozen=True)
class Caller:
    """Who asks: a session's user (client secret), or the app's backend (admin key, ``None``)."""

    user: str | None

    def may_see(self, user: str) -> bool:
        return self.user is None or self.user == user


async def run_caller(
    request: Request,
    services: AppServices,
    authorization: Annotated[str | None, Header()] = None,
    openai_beta: Annotated[str | None, Header(alias="OpenAI-Beta")] = None,
) -> Caller:
    token = bearer_token(authorization)
    if token is not None and token.startswith(CLIENT_SECRET_PREFIX):
        context = await client_context(request, services, authorization)
        return Caller(user=context.user)
    await require_admin_key(services, authorization, openai_beta)
    check_ids(request.path_params)
    return Caller(user=None)


RunCaller = Annotated[Caller, Depends(run_caller)]


async def _visible_run(run_id: str, caller: Caller, services: AppServices) -> RunRecord:
    run = await services.runs.get(run_id) if run_id.startswith(RUN_PREFIX) else None
    if run is None or not caller.may_see(run.user):
        raise NotFound(f"No run found with id '{run_id}'.")
    return run


@router.get(
    "/v1/chatkit/runs/{run_id}",
    operation_id="beta.chatkit.runs.retrieve",
    responses=ok(wire.ChatKitRun, 404),
    openapi_extra=EITHER_CREDENTIAL,
)
async def retrieve_run(run_id: str, caller: RunCaller, services: AppServices) -> Any:
    return (await _visible_run(run_id, caller, services)).to_wire()


@router.post(
    "/v1/chatkit/runs/{run_id}/cancel",
    operation_id="beta.chatkit.runs.cancel",
    responses=ok(wire.ChatKitRun, 404),
    openapi_extra=EITHER_CREDENTIAL,
)
async def cancel_run(run_id: str, caller: RunCaller, services: AppServices) -> Any:
    """Stop the run as the Stop button does (its partial answer kept); idempotent."""
    run = await _visible_run(run_id, caller, services)
    return (await services.runs.cancel(run)).to_wire()


@router.get(
    "/v1/chatkit/runs/{run_id}/events",
    operation_id="beta.chatkit.runs.events",
    responses=event_stream_responses(404, 410),
    openapi_extra=EITHER_CREDENTIAL,
)
async def follow_run(
    run_id: str,
    caller: RunCaller,
    services: AppServices,
    after: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Replay the run's events after ``Last-Event-ID`` (or ``after``), then follow it live.

    Closing this connection never stops the run.
    """
    run = await _visible_run(run_id, caller, services)
    services.runs.check_replayable(run)
    start = after if after is not None else _event_id(last_event_id)
    body = run_events(services.runs, run, start, numbered=True)
    headers = {**SSE_HEADERS, RUN_ID_HEADER: run.id}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@router.get(
    "/v1/chatkit/threads/{thread_id}/runs",
    operation_id="beta.chatkit.threads.list_runs",
    responses=ok(wire.ChatKitRunList, 404),
    openapi_extra=EITHER_CREDENTIAL,
)
async def list_thread_runs(
    thread_id: str, caller: RunCaller, services: AppServices, params: ListQuery
) -> Any:
    """The thread's runs, newest first; one ``in_progress`` run at most."""
    thread = await services.threads.get(thread_id)
    if not caller.may_see(thread.user):
        raise NotFound(f"No thread found with id '{thread_id}'.")
    page = await services.runs.repo.list_for_thread(thread_id, params)
    return page.to_wire(lambda run: run.to_wire())


def _event_id(header: str | None) -> int:
    if header is None or not header.strip():
        return 0
    try:
        value = int(header.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidRequest(
            "'Last-Event-ID' must be the non-negative integer 'id' of an event of this run.",
            param="Last-Event-ID",
            code="invalid_value",
        )
    return value
