"""``/v1/chatkit/users/{user}`` (an extension, admin key): a user's data exported or erased."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices
from kithost.api.openapi import ok

router = APIRouter(prefix="/v1/chatkit/users", dependencies=[AdminKey])


@router.get(
    "/{user:path}/export",
    operation_id="beta.chatkit.users.export",
    responses=ok(wire.ChatKitUserDataExport),
)
async def export_user(user: str, services: AppServices) -> Any:
    """Every session (no secret), thread, item, feedback, run and attachment (bytes in base64)
    of the user, written as it is read (files a slice at a time)."""
    export = await services.user_data.export(user)
    return StreamingResponse(export.chunks, media_type="application/json")


@router.delete(
    "/{user:path}",
    operation_id="beta.chatkit.users.erase",
    responses=ok(wire.ChatKitUserDataErasure),
)
async def erase_user(user: str, services: AppServices) -> Any:
    """Delete everything of the user; a receipt of what was deleted."""
    return await services.user_data.erase(user)
