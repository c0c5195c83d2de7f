"""``/v1/chatkit/sessions``: create and cancel (hosted), retrieve and list (extensions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices, json_body
from kithost.api.listing import ListQuery
from kithost.api.openapi import json_request, ok
from kithost.api.wire_json import WireJSON
from kithost.core.limits import check_id
from kithost.core.sessions import SessionStatus
from kithost.core.validation import check_text

router = APIRouter(prefix="/v1/chatkit/sessions", dependencies=[AdminKey])


@router.post(
    "",
    operation_id="beta.chatkit.sessions.create",
    responses=ok(wire.ChatSession, 404),
    openapi_extra=json_request(wire.SessionCreateParams),
)
async def create_session(services: AppServices, body: Annotated[Any, Depends(json_body)]) -> Any:
    session, secret = await services.sessions.create(body)
    return WireJSON(session.to_wire(client_secret=secret))


@router.post(
    "/{session_id}/cancel",
    operation_id="beta.chatkit.sessions.cancel",
    responses=ok(wire.ChatSession, 404),
)
async def cancel_session(session_id: str, services: AppServices) -> Any:
    session = await services.sessions.cancel(session_id)
    return WireJSON(session.to_wire())


@router.get(
    "/{session_id}",
    operation_id="beta.chatkit.sessions.retrieve",
    responses=ok(wire.ChatSession, 404),
)
async def retrieve_session(session_id: str, services: AppServices) -> Any:
    """Extension: the session as stored; its secret is never shown again after creation."""
    session = await services.sessions.get(session_id)
    return WireJSON(session.to_wire())


@router.get("", operation_id="beta.chatkit.sessions.list", responses=ok(wire.ChatSessionList))
async def list_sessions(
    services: AppServices,
    params: ListQuery,
    user: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    status: SessionStatus | None = None,
    workflow_id: Annotated[str | None, Query(min_length=1)] = None,
) -> Any:
    """Extension: sessions newest first, filterable by ``user``, ``status`` and ``workflow_id``."""
    check_text(user, "user")
    check_id(workflow_id, "workflow_id")
    page = await services.sessions.list(params, user=user, status=status, workflow_id=workflow_id)
    return WireJSON(page.to_wire(lambda session: session.to_wire()))
