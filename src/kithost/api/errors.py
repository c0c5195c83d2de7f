"""The OpenAI error envelope on every failing response, and the handlers that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kithost.core.errors import Conflict, KithostError, RateLimited, Unauthenticated
from kithost.core.validation import error_from_details

INTERNAL_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! "
    "The request id in the x-request-id header identifies it in the server's log."
)


def envelope(
    message: str, error_type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(error: KithostError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="kithost"'
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Conflict):
        # The official SDKs retry a 409 by default; a state conflict here (a run in progress, a
        # file already uploaded) does not clear by asking again, and a retried POST of a turn
        # could post the user's message twice.
        headers["x-should-retry"] = "false"
    return JSONResponse(
        envelope(error.message, error.error_type, error.param, error.code),
        status_code=error.status_code,
        headers=headers,
    )


async def _kithost_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KithostError)
    return error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = dict(exc.errors()[0])
    # FastAPI prefixes locations with where the value came from ('query', 'path', 'body').
    first["loc"] = tuple(first.get("loc", ()))[1:]
    return error_response(error_from_details(first))  # type: ignore[arg-type]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
        body = envelope(message, "invalid_request_error", code="unknown_url")
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
        body = envelope(message, "invalid_request_error", code="method_not_allowed")
    else:
        body = envelope(str(exc.detail), "invalid_request_error")
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KithostError, _kithost_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
