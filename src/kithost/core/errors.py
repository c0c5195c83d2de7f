"""Domain errors. The API layer renders each as the OpenAI error envelope with its status."""

from __future__ import annotations


class KithostError(Exception):
    """Base of every error that a caller caused and should see."""

    status_code = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(KithostError):
    """The request is malformed or a value is out of range (400)."""


class NotFound(KithostError):
    """The named object does not exist, or is not visible to the caller (404)."""

    status_code = 404


class Unauthenticated(KithostError):
    """No credentials, or credentials that are not (or no longer) valid (401)."""

    status_code = 401


class PermissionDenied(KithostError):
    """Valid credentials that may not do this (403)."""

    status_code = 403


class Conflict(KithostError):
    """The object's state forbids this change (409)."""

    status_code = 409


class Gone(KithostError):
    """The object existed but what was asked of it is no longer kept (410)."""

    status_code = 410


class Unavailable(KithostError):
    """This server cannot take the request now; another one (or a retry) can (503)."""

    status_code = 503
    error_type = "server_error"


class RateLimited(KithostError):
    """Too many requests; ``retry_after`` says when to try again, in seconds (429)."""

    status_code = 429
    error_type = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


def missing_parameter(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def invalid_id(param: str, value: str, prefix: str) -> InvalidRequest:
    """The hosted API checks id prefixes: ``Expected an ID that begins with 'cksess'.``"""
    return InvalidRequest(
        f"Invalid '{param}': '{value}'. Expected an ID that begins with '{prefix}'.",
        param=param,
        code="invalid_value",
    )
