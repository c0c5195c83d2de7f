"""``/v1/files`` (OpenAI's Files API, for file search): upload, list, retrieve, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKeyOnly, AppServices
from kithost.api.openapi import BINARY, FILE_PURPOSE, bytes_response, multipart_request, ok
from kithost.api.retrieval_wire import file_wire
from kithost.core.errors import InvalidRequest, missing_parameter
from kithost.core.limits import RequestTooLarge
from kithost.core.pagination import ListParams, Order
from kithost.core.validation import check_text

router = APIRouter(prefix="/v1/files", dependencies=[AdminKeyOnly])

CHUNK = 256 * 1024
MAX_LIST_LIMIT = 10_000  # OpenAI's Files API lists up to 10,000 files a page (and by default)


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


@router.post(
    "",
    operation_id="files.create",
    responses=ok(wire.FileObject),
    # One file and at most 8 fields (request.form's limits below).
    openapi_extra=multipart_request(
        {"file": BINARY, "purpose": FILE_PURPOSE}, ["file", "purpose"], max_parts=9
    ),
)
async def upload_file(request: Request, services: AppServices) -> Any:
    try:
        form = await request.form(max_files=1, max_fields=8)
    except RequestTooLarge:
        raise
    except Exception:
        raise InvalidRequest(
            "Expected a multipart/form-data body with 'file' and 'purpose' parts.", param="file"
        ) from None
    try:
        file = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(file, UploadFile):
            raise missing_parameter("file")
        if not isinstance(purpose, str) or not purpose:
            raise missing_parameter("purpose")
        record = await services.retrieval.upload_file(
            file.filename or "upload",
            _chunks(file),
            purpose,
            max_bytes=services.settings.max_file_bytes,
        )
    finally:
        await form.close()
    return file_wire(record)


@router.get("", operation_id="files.list", responses=ok(wire.FileList))
async def list_files(
    services: AppServices,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = MAX_LIST_LIMIT,
    order: Order = "desc",
    after: Annotated[str | None, Query(min_length=1)] = None,
    purpose: Annotated[str | None, Query(min_length=1)] = None,
) -> Any:
    check_text(after, "after")
    check_text(purpose, "purpose")
    page = await services.retrieval.list_files(
        ListParams(limit=limit, order=order, after=after), purpose
    )
    return page.to_wire(file_wire)


@router.get("/{file_id}", operation_id="files.retrieve", responses=ok(wire.FileObject, 404))
async def retrieve_file(file_id: str, services: AppServices) -> Any:
    return file_wire(await services.retrieval.get_file(file_id))


@router.delete("/{file_id}", operation_id="files.delete", responses=ok(wire.FileDeleted, 404))
async def delete_file(file_id: str, services: AppServices) -> Any:
    await services.retrieval.delete_file(file_id)
    return {"id": file_id, "object": "file", "deleted": True}


@router.get(
    "/{file_id}/content",
    operation_id="files.content",
    responses=bytes_response("The file's bytes.", "application/octet-stream", 400, 404),
)
async def file_content(file_id: str, services: AppServices) -> Response:
    """As on OpenAI, files kept for file search (``assistants``) cannot be downloaded."""
    record = await services.retrieval.get_file(file_id)
    if record.purpose == "assistants":
        raise InvalidRequest(
            "Not allowed to download files of purpose: assistants.", param="file_id"
        )
    data = await services.retrieval.file_bytes(file_id)
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{file_id}"'},
    )
