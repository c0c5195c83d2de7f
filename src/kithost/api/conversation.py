"""``POST /v1/chatkit/conversation``: the ChatKit protocol, authorised by a client secret."""

from __future__ import annotations

from chatkit.server import StreamingResult
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from kithost.api.deps import AppServices, ClientContext

router = APIRouter()

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    # Tell nginx and similar proxies not to buffer the stream.
    "X-Accel-Buffering": "no",
}


@router.post("/v1/chatkit/conversation")
async def conversation(request: Request, services: AppServices, context: ClientContext) -> Response:
    result = await services.conversation.handle(await request.body(), context)
    if isinstance(result, StreamingResult):
        return StreamingResponse(result, media_type="text/event-stream", headers=SSE_HEADERS)
    return Response(content=result.json, media_type="application/json")
