"""Checks made before a ChatKit request reaches the SDK, so that errors are HTTP errors.

Once the SDK starts a stream the status is already 200 and a failure can only abort the
connection; so a bad body, a thread that is not the caller's, a locked thread or an unusable
attachment are refused here first (chatkit-protocol.md §1, §12).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsUpdateReq,
)
from pydantic import TypeAdapter, ValidationError

from kithost.core import limits
from kithost.core.errors import InvalidRequest
from kithost.core.validation import contains_nul, nul_error

MAX_PAGE_SIZE = 100

_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)

# Requests that add input to an existing thread: refused on a locked or closed thread.
NEW_INPUT = (
    ThreadsAddUserMessageReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsRetryAfterItemReq,
    ThreadsCustomActionReq,
)


def parse_request(body: bytes) -> ChatKitReq:
    """Validate a ChatKit request body, mapping problems to a 400 that names the field."""
    limits.check_json_depth(body)
    try:
        request = _REQUEST.validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    _check_page_size(request)
    _check_no_nul(body)
    limits.check_ids(_ids_of(request))
    _check_sizes(request)
    _drop_repeats(request)
    return request


def thread_id_of(request: ChatKitReq) -> str | None:
    params = getattr(request, "params", None)
    thread_id = getattr(params, "thread_id", None)
    return thread_id if isinstance(thread_id, str) else None


def attachment_ids_of(request: ChatKitReq) -> list[str]:
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        return list(request.params.input.attachments)
    return []


def deleted_attachment_of(request: ChatKitReq) -> str | None:
    return request.params.attachment_id if isinstance(request, AttachmentsDeleteReq) else None


def _ids_of(request: ChatKitReq) -> Iterator[tuple[str, str]]:
    """Every id the request names, with its parameter path: each is bounded before a query."""
    params = request.params
    for name in ("thread_id", "item_id", "attachment_id", "after"):
        value = getattr(params, name, None)
        if isinstance(value, str):
            yield f"params.{name}", value
    if isinstance(request, ItemsFeedbackReq):
        for n, item_id in enumerate(request.params.item_ids):
            yield f"params.item_ids[{n}]", item_id
    for n, attachment_id in enumerate(attachment_ids_of(request)):
        yield f"params.input.attachments[{n}]", attachment_id


def _check_sizes(request: ChatKitReq) -> None:
    """Lists and strings that reach a query or a stored row stay within fixed bounds."""
    if isinstance(request, ItemsFeedbackReq):
        _check_count("params.item_ids", len(request.params.item_ids), limits.MAX_FEEDBACK_ITEMS)
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        content = request.params.input.content
        _check_count("params.input.content", len(content), limits.MAX_LIST_ITEMS)
    if isinstance(request, ThreadsAddStructuredInputReq):
        answers = request.params.input.answers
        _check_count("params.input.answers", len(answers), limits.MAX_LIST_ITEMS)
        for key, answer in answers.items():
            param = f"params.input.answers.{key}.values"
            _check_count(param, len(answer.values), limits.MAX_LIST_ITEMS)
    if isinstance(request, ThreadsUpdateReq):
        _check_length("params.title", request.params.title, limits.MAX_TITLE_LENGTH)
    if isinstance(request, AttachmentsCreateReq):
        _check_length("params.name", request.params.name, limits.MAX_FILE_NAME_LENGTH)
        _check_length("params.mime_type", request.params.mime_type, limits.MAX_MIME_TYPE_LENGTH)


def _check_count(param: str, count: int, limit: int) -> None:
    if count > limit:
        raise limits.too_many(param, count, limit)


def _check_length(param: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise limits.too_long(param, value, limit)


def _drop_repeats(request: ChatKitReq) -> None:
    """An attachment or an item named twice counts, and is stored, once."""
    if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
        user_input = request.params.input
        user_input.attachments = list(dict.fromkeys(user_input.attachments))
    if isinstance(request, ItemsFeedbackReq):
        request.params.item_ids = list(dict.fromkeys(request.params.item_ids))


def _check_page_size(request: ChatKitReq) -> None:
    if isinstance(request, ThreadsListReq | ItemsListReq):
        limit = request.params.limit
        if limit is not None and not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(
                f"Invalid 'params.limit': expected a value from 1 to {MAX_PAGE_SIZE}, "
                f"but got {limit} instead.",
                param="params.limit",
                code="invalid_value",
            )


def _check_no_nul(body: bytes) -> None:
    """Refuse a NUL character anywhere: PostgreSQL can store it in neither text nor JSON.

    JSON can only spell NUL as the escape ``\\u0000`` (raw control characters are invalid), so
    bodies without that escape, nearly all of them, are not walked.
    """
    if b"\\u0000" not in body:
        return
    path = _nul_path(json.loads(body), "")
    if path is not None:
        raise nul_error(path or "body")


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding a NUL, or None."""
    if isinstance(value, str):
        return path if contains_nul(value) else None
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if contains_nul(key):
                return child_path
            found = _nul_path(child, child_path)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, child in enumerate(value):
            found = _nul_path(child, f"{path}.{index}")
            if found is not None:
                return found
    return None


def _invalid(exc: ValidationError) -> InvalidRequest:
    first: Any = exc.errors()[0]
    if first["type"] in ("json_invalid", "json_type"):
        return InvalidRequest("The request body is not valid JSON.", code="invalid_json")
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        given = first.get("input")
        kind = given.get("type") if isinstance(given, dict) else None
        return InvalidRequest(
            f"Unknown ChatKit request type: {kind!r}." if kind else "Missing request 'type'.",
            param="type",
            code="invalid_value",
        )
    # The first location element is the request type (the union's tag); the rest is the path.
    path = ".".join(str(part) for part in first["loc"][1:]) or "body"
    return InvalidRequest(f"Invalid '{path}': {first['msg']}.", param=path, code="invalid_value")
