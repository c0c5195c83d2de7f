"""``/v1/chatkit/files``: uploads (direct and two-phase) and signed links to file bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from kithost.api import openapi_schemas as wire
from kithost.api.body_limits import tighten_body_limit
from kithost.api.deps import AppServices, ClientContext, public_base_url
from kithost.api.openapi import (
    BINARY,
    UPLOAD_TYPES,
    bytes_response,
    multipart_request,
    ok,
    upload_bytes_request,
)
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.limits import MULTIPART_OVERHEAD, RequestTooLarge
from kithost.core.sessions import ChatSession
from kithost.core.signing import content_path, upload_path
from kithost.core.uploads import IMAGE_MIME_TYPES, normalise_mime_type, too_large
from kithost.core.validation import contains_nul

router = APIRouter(prefix="/v1/chatkit/files")

CHUNK = 256 * 1024


def _wire(attachment: Any) -> dict[str, Any]:
    """The attachment as chatkit-js expects it, plus the hosted ``FilePart`` field."""
    data: dict[str, Any] = attachment.model_dump(
        mode="json", exclude_none=True, context={"exclude_metadata": True}
    )
    data.setdefault("upload_url", None)
    return data


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


async def _raw_chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


def _limit_body(request: Request, session: ChatSession, max_bytes: int, framing: int) -> None:
    """The session's file size bounds the body: a declared size over it is refused at once, a
    streamed body once it passes it (with ``framing`` bytes of room for multipart)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + framing:
        raise too_large(session)
    tighten_body_limit(
        request,
        max_bytes + MULTIPART_OVERHEAD,
        f"this session's file_upload.max_file_size of {session.configuration.max_file_size_mb}"
        " MB, plus multipart framing",
    )


async def _file_part(request: Request) -> UploadFile:
    try:
        form = await request.form()
    except RequestTooLarge:
        raise
    except Exception:
        raise InvalidRequest(
            "Expected a multipart/form-data body with a 'file' part.", param="file"
        ) from None
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InvalidRequest(
            "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
        )
    return file


@router.post(
    "",
    operation_id="beta.chatkit.upload_file",
    responses=ok(wire.ChatKitUploadedFile, 400, 403, name="ChatKitUploadedFile"),
    openapi_extra=multipart_request({"file": BINARY}, ["file"], UPLOAD_TYPES),
)
async def upload_file(request: Request, services: AppServices, context: ClientContext) -> Any:
    """Direct upload (hosted ``/v1/chatkit/files``, chatkit-js ``direct`` strategy)."""
    session = context.session
    _limit_body(request, session, services.uploads_policy.max_bytes(session), MULTIPART_OVERHEAD)
    file = await _file_part(request)
    name = file.filename or "upload"
    if contains_nul(name):
        await file.close()
        raise InvalidRequest(
            "The file name contains a NUL character (\\u0000), which is not allowed.",
            param="file",
            code="invalid_value",
        )
    try:
        attachment = await services.uploads.upload_direct(
            context,
            name=name,
            mime_type=normalise_mime_type(file.content_type),
            chunks=_chunks(file),
        )
    finally:
        await file.close()
    return _wire(attachment)


@router.post(
    "/{attachment_id}/upload",
    operation_id="beta.chatkit.files.upload_bytes",
    responses=ok(wire.ChatKitUploadedFile, 400, 401, 409, name="ChatKitUploadedFile"),
    openapi_extra=upload_bytes_request(),
)
@router.put(
    "/{attachment_id}/upload",
    operation_id="beta.chatkit.files.upload_bytes_put",
    responses=ok(wire.ChatKitUploadedFile, 400, 401, 409, name="ChatKitUploadedFile"),
    openapi_extra=upload_bytes_request(),
)
async def upload_file_bytes(
    attachment_id: str,
    request: Request,
    services: AppServices,
    expires: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> Any:
    """Two-phase upload, step 2: the signed link from ``attachments.create``."""
    if not services.link_signer.verify(upload_path(attachment_id), expires, signature):
        raise NotFound("This upload link is invalid or has expired.")
    public_url = public_base_url(request, services)
    content_type = request.headers.get("content-type", "")
    multipart = content_type.startswith("multipart/form-data")
    # Before a byte is read: the link's attachment and session, whose limit bounds the body.
    _record, session = await services.uploads.pending_upload(attachment_id)
    framing = MULTIPART_OVERHEAD if multipart else 0
    _limit_body(request, session, services.uploads_policy.max_bytes(session), framing)
    if multipart:
        file = await _file_part(request)
        try:
            attachment = await services.uploads.upload_two_phase(
                attachment_id, public_url, _chunks(file)
            )
        finally:
            await file.close()
    else:
        attachment = await services.uploads.upload_two_phase(
            attachment_id, public_url, _raw_chunks(request)
        )
    return _wire(attachment)


@router.get(
    "/{attachment_id}/content",
    operation_id="beta.chatkit.files.content",
    responses=bytes_response("The file's bytes, as uploaded.", "*/*"),
)
async def file_content(
    attachment_id: str,
    services: AppServices,
    expires: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> Response:
    """The bytes behind a signed preview link."""
    if not services.link_signer.verify(content_path(attachment_id), expires, signature):
        raise NotFound("This file link is invalid or has expired.")
    content = await services.uploads.content(attachment_id)
    inline = content.mime_type in IMAGE_MIME_TYPES
    disposition = "inline" if inline else "attachment"
    return Response(
        content=content.data,
        media_type=content.mime_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{attachment_id}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
        },
    )
