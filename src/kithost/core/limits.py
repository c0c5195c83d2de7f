"""Bounds on what a request may hold, checked before anything is parsed deeply or queried.

Sizes of whole bodies are settings (``KITHOST_MAX_*_BODY_BYTES``, enforced by
``kithost.api.body_limits`` while the body streams in). The bounds here are fixed: they come
from the hosted contract or from what every backend can store and index (docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import accumulate

from kithost.core.errors import InvalidRequest, KithostError
from kithost.core.validation import contains_nul, nul_error

KILOBYTE = 1024
MEGABYTE = 1024 * KILOBYTE

DEFAULT_CONVERSATION_BODY_BYTES = MEGABYTE
DEFAULT_CONTROL_BODY_BYTES = 256 * KILOBYTE
DEFAULT_FILE_BYTES = 512 * MEGABYTE  # OpenAI's limit for one file
# Room for multipart boundaries and part headers on top of a file's own bytes.
MULTIPART_OVERHEAD = 64 * KILOBYTE

# Ids kithost makes are under 60 characters, hosted ids too; a cap keeps a hostile id out of
# every query and index.
MAX_ID_LENGTH = 128
# The hosted contract's bound on ``user`` in its list filter (hosted-api.md §3.3); PostgreSQL
# could not index a much longer one (a B-tree row holds at most ~2,700 bytes).
MAX_USER_LENGTH = 512
MAX_TITLE_LENGTH = 512
MAX_FILE_NAME_LENGTH = 1024
MAX_MIME_TYPE_LENGTH = 255
# Objects and arrays inside one another; deeper bodies are refused before they are parsed.
MAX_JSON_DEPTH = 64
# ``items.feedback``: chatkit-js sends the items of one answer.
MAX_FEEDBACK_ITEMS = 100
# Content parts of one user message, answers of one structured input submission.
MAX_LIST_ITEMS = 100
# OpenAI's bound on a file batch (and kithost's on a vector store's ``file_ids``).
MAX_VECTOR_STORE_FILES = 2000


class RequestTooLarge(KithostError):
    """A request body over its route's limit (413); the connection is closed after it."""

    status_code = 413

    def __init__(self, message: str):
        super().__init__(message, code="request_too_large")


def too_long(param: str, value: str, limit: int) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {len(value)} instead.",
        param=param,
        code="string_above_max_length",
    )


def too_many(param: str, count: int, limit: int, why: str = "") -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': array too long. Expected an array with maximum length {limit}"
        f"{why}, but got an array with length {count} instead.",
        param=param,
        code="array_above_max_length",
    )


def check_id(value: str | None, param: str) -> None:
    """An id given by a caller: short enough for any query, no NUL."""
    if value is None:
        return
    if len(value) > MAX_ID_LENGTH:
        raise too_long(param, value, MAX_ID_LENGTH)
    if contains_nul(value):
        raise nul_error(param)


def check_ids(values: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    """``check_id`` for each ``(param, value)``: path parameters, mostly."""
    pairs = values.items() if isinstance(values, Mapping) else values
    for param, value in pairs:
        check_id(value, param)


# A JSON string literal (escapes included), so brackets inside strings are not counted.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_OTHER_BYTES = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests objects and arrays deeper than ``limit``.

    Scans bytes instead of parsing: a parser recurses once per level (Python's ``json`` fails
    with ``RecursionError`` past ~1,000). Bodies with few brackets, nearly all, are not scanned.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _OTHER_BYTES)
    return max(accumulate(_STEP[byte] for byte in brackets), default=0) > limit


def too_deep(limit: int = MAX_JSON_DEPTH) -> InvalidRequest:
    return InvalidRequest(
        f"The JSON body nests objects and arrays deeper than {limit} levels.",
        code="invalid_json",
    )


def check_json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    if json_depth_exceeds(raw, limit):
        raise too_deep(limit)
