"""``POST /v1/chatkit/conversation``: the ChatKit protocol, authorised by a client secret.

A streaming request starts a run (runs/); this response is the run's first follower.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AppServices, ClientContext
from kithost.api.openapi import conversation_responses, json_request
from kithost.api.run_streams import RUN_ID_HEADER, SSE_HEADERS, run_events, wants_detach
from kithost.conversation.service import StreamingTurn

router = APIRouter()


@router.post(
    "/v1/chatkit/conversation",
    operation_id="chatkit.conversation",
    responses=conversation_responses(),
    openapi_extra=json_request(wire.ConversationRequest, "ChatKitRequest"),
)
async def conversation(
    request: Request,
    services: AppServices,
    context: ClientContext,
    detach: Annotated[str | None, Header(alias="X-Kithost-Detach")] = None,
) -> Response:
    result = await services.conversation.handle(await request.body(), context)
    if not isinstance(result, StreamingTurn):
        return Response(content=result.json, media_type="application/json")
    live = await services.runs.start_run(result, context)
    detached = wants_detach(detach, services.settings.runs_detach)
    body = run_events(
        services.runs,
        live.record,
        0,
        numbered=detached,
        stop_when_abandoned=None if detached else live,
    )
    headers = {**SSE_HEADERS, RUN_ID_HEADER: live.id}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
