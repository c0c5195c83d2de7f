"""``/v1/chatkit/threads``: list, retrieve, delete, and list a thread's items."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices, public_base_url
from kithost.api.listing import ListQuery
from kithost.api.openapi import ok
from kithost.api.wire_json import WireJSON
from kithost.core.limits import check_id
from kithost.core.traces import traces_to_wire
from kithost.core.validation import check_text

router = APIRouter(prefix="/v1/chatkit/threads", dependencies=[AdminKey])


@router.get("", operation_id="beta.chatkit.threads.list", responses=ok(wire.ChatKitThreadList))
async def list_threads(
    services: AppServices,
    params: ListQuery,
    user: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    workflow_id: Annotated[str | None, Query(min_length=1)] = None,
) -> Any:
    check_text(user, "user")
    check_id(workflow_id, "workflow_id")
    page = await services.threads.list(params, user=user, workflow_id=workflow_id)
    return WireJSON(page.to_wire(lambda thread: thread.to_wire()))


@router.get(
    "/{thread_id}",
    operation_id="beta.chatkit.threads.retrieve",
    responses=ok(wire.ChatKitThread, 404),
)
async def retrieve_thread(thread_id: str, services: AppServices) -> Any:
    thread = await services.threads.get(thread_id)
    return WireJSON(thread.to_wire())


@router.delete(
    "/{thread_id}",
    operation_id="beta.chatkit.threads.delete",
    responses=ok(wire.ThreadDeleteResponse, 404),
)
async def delete_thread(thread_id: str, services: AppServices) -> Any:
    await services.threads.delete(thread_id)
    return {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}


@router.get(
    "/{thread_id}/traces",
    operation_id="beta.chatkit.threads.list_traces",
    responses=ok(wire.ChatKitTraceList, 404),
)
async def list_thread_traces(thread_id: str, services: AppServices) -> Any:
    """Extension: the recorded runs of a thread (sessions with ``tracing.enabled``)."""
    await services.threads.get(thread_id)
    return traces_to_wire(await services.traces.for_thread(thread_id))


@router.get(
    "/{thread_id}/items",
    operation_id="beta.chatkit.threads.list_items",
    responses=ok(wire.ChatKitThreadItemList, 404),
)
async def list_thread_items(
    thread_id: str, request: Request, services: AppServices, params: ListQuery
) -> Any:
    page = await services.threads.list_items(thread_id, params)
    public_url = public_base_url(request, services)

    def refresh(url: str | None) -> str | None:
        return services.file_links.refresh(url, public_url)

    return WireJSON(page.to_wire(lambda item: item.with_fresh_links(refresh).to_wire()))
