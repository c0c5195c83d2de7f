"""``/v1/vector_stores…``: stores, their files and file batches, and search (OpenAI's shapes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKeyOnly, AppServices, json_body
from kithost.api.listing import ListQuery
from kithost.api.openapi import json_request, ok
from kithost.api.retrieval_wire import batch_wire, search_wire, store_file_wire, store_wire
from kithost.core.errors import InvalidRequest
from kithost.core.limits import MAX_VECTOR_STORE_FILES
from kithost.core.validation import NonEmptyText, check_text, parse_model
from kithost.retrieval.models import BatchEntry, ExpiresAfter, FileStatus

router = APIRouter(prefix="/v1/vector_stores", dependencies=[AdminKeyOnly])

# While a file or batch is in progress, the SDKs' poll helpers wait this long between looks.
POLL_AFTER_MS = "250"

Body = Annotated[Any, Depends(json_body)]
StatusFilter = Literal["in_progress", "completed", "failed", "cancelled"]


# File ids reach one IN list: bounded in number (OpenAI's batch size). Each is shape-checked
# by the retrieval service before any query.
FileIds = Annotated[list[NonEmptyText], Field(max_length=MAX_VECTOR_STORE_FILES)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpiresAfterBody(_Strict):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)

    def domain(self) -> ExpiresAfter:
        return ExpiresAfter(self.days)


class CreateStore(_Strict):
    name: StrictStr | None = None
    description: StrictStr | None = None  # accepted, as OpenAI does; not kept
    metadata: dict[str, Any] | None = None
    expires_after: ExpiresAfterBody | None = None
    file_ids: FileIds | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateStore(_Strict):
    name: StrictStr | None = None
    metadata: dict[str, Any] | None = None
    expires_after: ExpiresAfterBody | None = None


class AddFile(_Strict):
    file_id: NonEmptyText
    attributes: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateFile(_Strict):
    attributes: dict[str, Any] | None


class BatchFile(_Strict):
    file_id: NonEmptyText
    attributes: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None


class CreateBatch(_Strict):
    file_ids: FileIds | None = None
    files: Annotated[list[BatchFile], Field(max_length=MAX_VECTOR_STORE_FILES)] | None = None
    attributes: dict[str, Any] | None = None
    chunking_strategy: dict[str, Any] | None = None


class Search(_Strict):
    query: StrictStr | list[StrictStr]
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: dict[str, Any] | None = None
    ranking_options: dict[str, Any] | None = None
    rewrite_query: StrictBool = False  # accepted; kithost searches the query as given


def _no_nul(value: str | None, param: str) -> None:
    check_text(value, param)


# -- stores -----------------------------------------------------------------------------------
@router.post(
    "",
    operation_id="vector_stores.create",
    responses=ok(wire.VectorStore, 404),
    openapi_extra=json_request(CreateStore, "VectorStoreCreateParams"),
)
async def create_store(services: AppServices, body: Body) -> Any:
    request = parse_model(CreateStore, body)
    _no_nul(request.name, "name")
    store = await services.retrieval.create_store(
        request.name,
        request.metadata,
        request.expires_after.domain() if request.expires_after else None,
        list(request.file_ids or []),
        chunking_strategy=request.chunking_strategy,
    )
    return store_wire(store)


@router.get("", operation_id="vector_stores.list", responses=ok(wire.VectorStoreList))
async def list_stores(services: AppServices, params: ListQuery) -> Any:
    page = await services.retrieval.list_stores(params)
    return page.to_wire(store_wire)


@router.get(
    "/{store_id}", operation_id="vector_stores.retrieve", responses=ok(wire.VectorStore, 404)
)
async def retrieve_store(store_id: str, services: AppServices) -> Any:
    return store_wire(await services.retrieval.get_store(store_id))


@router.post(
    "/{store_id}",
    operation_id="vector_stores.update",
    responses=ok(wire.VectorStore, 404),
    openapi_extra=json_request(UpdateStore, "VectorStoreUpdateParams"),
)
async def update_store(store_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(UpdateStore, body)
    _no_nul(request.name, "name")
    given = request.model_fields_set
    kwargs: dict[str, Any] = {}
    if "name" in given:
        kwargs["name"] = request.name
    if "metadata" in given:
        kwargs["metadata"] = request.metadata
    if "expires_after" in given:
        kwargs["expires_after"] = request.expires_after.domain() if request.expires_after else None
    return store_wire(await services.retrieval.update_store(store_id, **kwargs))


@router.delete(
    "/{store_id}", operation_id="vector_stores.delete", responses=ok(wire.VectorStoreDeleted, 404)
)
async def delete_store(store_id: str, services: AppServices) -> Any:
    await services.retrieval.delete_store(store_id)
    return {"id": store_id, "object": "vector_store.deleted", "deleted": True}


@router.post(
    "/{store_id}/search",
    operation_id="vector_stores.search",
    responses=ok(wire.VectorStoreSearchResultsPage, 404),
    openapi_extra=json_request(Search, "VectorStoreSearchParams"),
)
async def search_store(store_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(Search, body)
    results = await services.retrieval.search_results(
        [store_id],
        request.query,
        request.max_num_results,
        request.filters,
        request.ranking_options,
    )
    return search_wire(results)


# -- files in a store -------------------------------------------------------------------------
def _polled(response: Response, status: str) -> None:
    if status == "in_progress":
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS


@router.post(
    "/{store_id}/files",
    operation_id="vector_stores.files.create",
    responses=ok(wire.VectorStoreFile, 404),
    openapi_extra=json_request(AddFile, "VectorStoreFileCreateParams"),
)
async def add_file(store_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(AddFile, body)
    item = await services.retrieval.add_file(
        store_id, request.file_id, request.attributes, request.chunking_strategy
    )
    return store_file_wire(item)


@router.get(
    "/{store_id}/files",
    operation_id="vector_stores.files.list",
    responses=ok(wire.VectorStoreFileList, 404),
)
async def list_files(
    store_id: str,
    services: AppServices,
    params: ListQuery,
    status: Annotated[StatusFilter | None, Query(alias="filter")] = None,
) -> Any:
    page = await services.retrieval.list_store_files(store_id, params, status)
    return page.to_wire(store_file_wire)


@router.get(
    "/{store_id}/files/{file_id}",
    operation_id="vector_stores.files.retrieve",
    responses=ok(wire.VectorStoreFile, 404),
)
async def retrieve_file(
    store_id: str, file_id: str, services: AppServices, response: Response
) -> Any:
    item = await services.retrieval.get_store_file(store_id, file_id)
    _polled(response, item.status)
    return store_file_wire(item)


@router.post(
    "/{store_id}/files/{file_id}",
    operation_id="vector_stores.files.update",
    responses=ok(wire.VectorStoreFile, 404),
    openapi_extra=json_request(UpdateFile, "VectorStoreFileUpdateParams"),
)
async def update_file(store_id: str, file_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(UpdateFile, body)
    item = await services.retrieval.update_store_file(store_id, file_id, request.attributes)
    return store_file_wire(item)


@router.delete(
    "/{store_id}/files/{file_id}",
    operation_id="vector_stores.files.delete",
    responses=ok(wire.VectorStoreFileDeleted, 404),
)
async def remove_file(store_id: str, file_id: str, services: AppServices) -> Any:
    await services.retrieval.remove_store_file(store_id, file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


@router.get(
    "/{store_id}/files/{file_id}/content",
    operation_id="vector_stores.files.content",
    responses=ok(wire.VectorStoreFileContent, 404),
)
async def file_content(store_id: str, file_id: str, services: AppServices) -> Any:
    """The file's text as kithost chunked it, chunk by chunk."""
    chunks = await services.retrieval.file_chunks(store_id, file_id)
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": chunk.text} for chunk in chunks],
        "has_more": False,
        "next_page": None,
    }


# -- file batches -----------------------------------------------------------------------------
@router.post(
    "/{store_id}/file_batches",
    operation_id="vector_stores.file_batches.create",
    responses=ok(wire.VectorStoreFileBatch, 404),
    openapi_extra=json_request(CreateBatch, "VectorStoreFileBatchCreateParams"),
)
async def create_batch(store_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(CreateBatch, body)
    if request.file_ids is not None and request.files is not None:
        raise InvalidRequest(
            "'file_ids' and 'files' are mutually exclusive: give one of them.",
            param="files",
            code="invalid_value",
        )
    if request.files is not None:
        entries = [
            BatchEntry(item.file_id, item.attributes, item.chunking_strategy)
            for item in request.files
        ]
    else:
        entries = [
            BatchEntry(file_id, request.attributes, request.chunking_strategy)
            for file_id in request.file_ids or []
        ]
    batch = await services.retrieval.create_batch(store_id, entries, request.files is not None)
    return batch_wire(batch)


@router.get(
    "/{store_id}/file_batches/{batch_id}",
    operation_id="vector_stores.file_batches.retrieve",
    responses=ok(wire.VectorStoreFileBatch, 404),
)
async def retrieve_batch(
    store_id: str, batch_id: str, services: AppServices, response: Response
) -> Any:
    batch = await services.retrieval.get_batch(store_id, batch_id)
    _polled(response, batch.status)
    return batch_wire(batch)


@router.post(
    "/{store_id}/file_batches/{batch_id}/cancel",
    operation_id="vector_stores.file_batches.cancel",
    responses=ok(wire.VectorStoreFileBatch, 404),
)
async def cancel_batch(store_id: str, batch_id: str, services: AppServices) -> Any:
    return batch_wire(await services.retrieval.cancel_batch(store_id, batch_id))


@router.get(
    "/{store_id}/file_batches/{batch_id}/files",
    operation_id="vector_stores.file_batches.list_files",
    responses=ok(wire.VectorStoreFileList, 404),
)
async def list_batch_files(
    store_id: str,
    batch_id: str,
    services: AppServices,
    params: ListQuery,
    status: Annotated[StatusFilter | None, Query(alias="filter")] = None,
) -> Any:
    await services.retrieval.get_batch(store_id, batch_id)
    status_filter: FileStatus | None = status
    page = await services.retrieval.list_store_files(store_id, params, status_filter, batch_id)
    return page.to_wire(store_file_wire)
