"""The OpenAPI 3.1 document at ``/v1/openapi.json``, as kithost really answers.

FastAPI's own document knows only what route signatures say, and kithost's routes read raw
bodies (errors come out in the OpenAI envelope, authentication before the body), so it would
list a 200 of any shape and a 422 that is never sent. Routes describe themselves with
``responses=ok(...)`` and ``openapi_extra=json_request(...)``; ``install_openapi`` then finishes
the document: credentials per route (found from its dependencies), the errors each kind of
caller can get, the ``OpenAI-Beta`` header, component schemas, no 422.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from kithost.api import deps
from kithost.api import openapi_schemas as wire
from kithost.api.openapi_components import component_schemas, schema_ref
from kithost.api.openapi_schemas import NO_NUL, ErrorResponse
from kithost.core.limits import MAX_ID_LENGTH
from kithost.core.uploads import DEFAULT_MIME_TYPES

Responses = dict[int | str, dict[str, Any]]
Schema = dict[str, Any]

ADMIN_KEY = "AdminKey"
CLIENT_SECRET = "ClientSecret"  # noqa: S105 - the name of a security scheme
SIGNED_LINK = "SignedLink"
SECURITY_SCHEMES: dict[str, Schema] = {
    ADMIN_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin API key (`sk-…`) from `KITHOST_API_KEYS` or `kithost keys "
        "create`. For the app's backend only.",
    },
    CLIENT_SECRET: {
        "type": "http",
        "scheme": "bearer",
        "description": "A session's client secret (`ek_…`), returned once by "
        "`POST /v1/chatkit/sessions`; short-lived, for the browser.",
    },
    SIGNED_LINK: {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": "The signature of a link kithost handed out (with its `expires`).",
    },
}
EITHER_CREDENTIAL: Schema = {"security": [{ADMIN_KEY: []}, {CLIENT_SECRET: []}]}
"""``openapi_extra`` of a route that takes an admin key or a client secret."""

# Path ids the control plane checks for their kind (400 otherwise), as hosted does.
ID_PREFIXES = {"session_id": "cksess", "thread_id": "cthr"}
# Ids a caller names, in the path or a query (api/deps.py, api/listing.py): bounded, no NUL.
ID_QUERIES = ("after", "before", "workflow_id")
BETA_HEADER_PATTERN = r"^(.*,)?[ \t]*chatkit_beta=v1[ \t]*(,.*)?$"

ERROR_DESCRIPTIONS = {
    400: "Bad input: a missing, unknown or out-of-range parameter, invalid JSON, a missing "
    "`OpenAI-Beta` header. `param` and `code` say which.",
    401: "No credential, or one that is wrong, cancelled (`session_cancelled`) or expired.",
    403: "Not allowed for this session (`uploads_disabled`).",
    404: "No such object, or one that belongs to another user.",
    409: "The object's state forbids this (`already_uploaded`, `run_in_progress`).",
    410: "No longer kept (`run_events_expired`).",
    413: "The request body is larger than this route accepts (`request_too_large`).",
    429: "The session's per-minute limit (`rate_limit_exceeded`).",
    503: "This server is shutting down (`draining`): send the request again.",
}
ERROR_HEADERS: dict[int, dict[str, Schema]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds until the limit resets.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}
REQUEST_ID_HEADER: Schema = {
    "description": "Names this request in the server's log.",
    "required": True,
    "schema": {"type": "string"},
}


def ok(
    source: Any,
    *errors: int,
    name: str | None = None,
    description: str = "OK",
    headers: dict[str, Schema] | None = None,
) -> Responses:
    """``responses=``: a JSON 200 of ``source``, and the statuses this route adds to its kind's."""
    success: Schema = {
        "description": description,
        "content": {"application/json": {"schema": schema_ref(source, name)}},
    }
    if headers:
        success["headers"] = headers
    return {200: success, **error_responses(*errors)}


def error_responses(*statuses: int) -> Responses:
    return {status: _error(status) for status in statuses}


def _error(status: int) -> Schema:
    response: Schema = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": schema_ref(ErrorResponse)}},
    }
    if status in ERROR_HEADERS:
        response["headers"] = dict(ERROR_HEADERS[status])
    return response


def json_request(source: Any, name: str | None = None) -> Schema:
    """``openapi_extra=``: a JSON body of ``source`` (the route reads it itself)."""
    content = {"application/json": {"schema": schema_ref(source, name, "request")}}
    return {"requestBody": {"required": True, "content": content}}


BINARY: Schema = {
    "type": "string",
    "format": "binary",
    "contentMediaType": "application/octet-stream",
}


def multipart_request(
    fields: dict[str, Schema],
    required: list[str],
    file_types: tuple[str, ...] = (),
    max_parts: int | None = None,
) -> Schema:
    """``openapi_extra=``: a ``multipart/form-data`` body with these parts; ``file_types``: the
    content types the ``file`` part may have; ``max_parts``: how many parts it may have (one
    file, the rest text fields)."""
    schema: Schema = {"type": "object", "properties": fields, "required": required}
    if max_parts is not None:
        schema["additionalProperties"] = {"type": "string"}
        schema["maxProperties"] = max_parts
    media: Schema = {"schema": schema}
    if file_types:
        media["encoding"] = {"file": {"contentType": ", ".join(file_types)}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": media}}}


FILE_PURPOSE: Schema = {"type": "string", "enum": ["assistants", "user_data"]}
UPLOAD_TYPES = DEFAULT_MIME_TYPES  # what a session's uploads may be (others: 400)
EVENT_STREAM_DESCRIPTION = (
    "Server-sent events (the schema describes one event, as OpenAPI 3.1 tools read it): each "
    "`data` is one JSON `ChatKitStreamEvent`; with detach (and on `runs.events`) each event "
    "also has an `id`, its number in the run."
)


def event_stream(description: str = "The answer, as it streams.") -> Schema:
    """A 200 of ``text/event-stream`` whose events carry ChatKit's ``ThreadStreamEvent``."""
    event = {
        "type": "object",
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": schema_ref(wire.ConversationEvent, "ChatKitStreamEvent"),
            },
            "id": {"type": "string", "pattern": "^[0-9]+$"},
        },
        "required": ["data"],
    }
    return {
        "description": f"{description} {EVENT_STREAM_DESCRIPTION}",
        "content": {"text/event-stream": {"schema": event}},
        "headers": {
            "X-Kithost-Run-Id": {
                "description": "On a stream: the run it follows (`GET /v1/chatkit/runs/{run_id}`).",
                "schema": {"type": "string"},
            }
        },
    }


def conversation_responses() -> Responses:
    """A streaming request answers events; the others answer JSON."""
    streamed = event_stream(
        "A streaming request (`threads.create`, `threads.add_user_message`, …)."
    )
    json_result = schema_ref(wire.ConversationResult, "ChatKitResult")
    streamed["content"]["application/json"] = {"schema": json_result}
    streamed["description"] += " A non-streaming request answers JSON (`ChatKitResult`)."
    return {200: streamed, **error_responses(403, 404, 409, 503)}


def created_or_streamed(source: Any, *errors: int) -> Responses:
    """A server-side turn: 201 JSON, or with ``stream: true`` a 200 of the run's events."""
    return {
        201: {
            "description": "Started (or, with `wait: true`, ended): the thread, its run and the "
            "turn's items.",
            "content": {"application/json": {"schema": schema_ref(source)}},
        },
        200: event_stream("With `stream: true`: the run's events, numbered."),
        **error_responses(*errors),
    }


def event_stream_responses(*errors: int) -> Responses:
    return {
        200: event_stream("The run's events after `Last-Event-ID`, then live."),
        **error_responses(*errors),
    }


def bytes_response(description: str, media_type: str, *errors: int) -> Responses:
    return {
        200: {"description": description, "content": {media_type: {"schema": BINARY}}},
        **error_responses(*errors),
    }


def upload_bytes_request() -> Schema:
    """Two-phase upload, step 2: the bytes, raw or as a multipart ``file`` part."""
    multipart = {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": BINARY},
                "multipart/form-data": {"schema": multipart},
            },
        }
    }


def health_responses() -> Responses:
    return {
        200: {
            "description": "Ready: the database answers.",
            "content": {"application/json": {"schema": schema_ref(wire.Health)}},
        },
        503: {
            "description": "Draining after `SIGTERM`: send new requests elsewhere.",
            "content": {"application/json": {"schema": schema_ref(wire.Draining)}},
        },
    }


# -- finishing the document -------------------------------------------------------------------
def install_openapi(app: FastAPI, require_beta_header: bool) -> None:
    """Serve the finished document from ``app.openapi()`` (built once, on first use)."""
    generate = app.openapi
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            built.update(finish(generate(), app.routes, require_beta_header, app.openapi_url))
        return built

    app.openapi = openapi  # type: ignore[method-assign]


def finish(
    doc: dict[str, Any], routes: list[Any], require_beta_header: bool, openapi_url: str | None
) -> dict[str, Any]:
    faces: dict[tuple[str, str], str | None] = {}
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                faces[str(route.path_format), method.lower()] = _face(route.dependant)
    seen: set[str] = set()
    for path, method, operation in _operations(doc):
        if operation["operationId"] in seen:
            raise ValueError(f"two operations named {operation['operationId']!r}")
        seen.add(operation["operationId"])
        _finish_operation(operation, faces.get((path, method)), require_beta_header)
    if openapi_url:
        doc["paths"][openapi_url] = {"get": _self_description()}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(component_schemas())
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    doc["info"]["description"] = (
        "A self-hostable, wire-compatible implementation of OpenAI's hosted ChatKit API. "
        "Every failing `/v1` response carries the OpenAI error envelope (`ErrorResponse`)."
    )
    return doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _face(dependant: Dependant) -> str | None:
    """Which credential a route's dependencies check: ``admin`` (with the ChatKit beta header),
    ``admin_only``, ``client``, or None (the route says, or takes none)."""
    calls = set(_calls(dependant))
    if deps.require_admin_key in calls:
        return "admin"
    if deps.require_admin_key_only in calls:
        return "admin_only"
    if deps.client_context in calls:
        return "client"
    return None


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _finish_operation(operation: dict[str, Any], face: str | None, beta_required: bool) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    parameters = _finish_parameters(operation, face, beta_required)
    standard = _standard_errors(operation, parameters, face)
    for status, response in error_responses(*standard).items():
        responses.setdefault(str(status), response)
    for status, response in responses.items():
        _drop_placeholder(response)
        if status == "200" and not response.get("content"):
            raise ValueError(f"{operation['operationId']}: no schema for its 200 response")
        response.setdefault("headers", {})["x-request-id"] = REQUEST_ID_HEADER
    operation["responses"] = dict(sorted(responses.items()))
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)


def _finish_parameters(
    operation: dict[str, Any], face: str | None, beta_required: bool
) -> list[Schema]:
    """The parameters as the server checks them; ``Authorization`` is the security's."""
    parameters = [
        p for p in operation.get("parameters", []) if p["name"].lower() != "authorization"
    ]
    checked_ids = face == "admin" or "security" in operation  # api/deps.py, api/runs.py
    for parameter in parameters:
        if parameter["in"] == "path" and checked_ids:
            prefix = ID_PREFIXES.get(parameter["name"], "")
            parameter["schema"] = {
                **parameter["schema"],
                "pattern": f"^{prefix}[^\\u0000]*$",
                "maxLength": MAX_ID_LENGTH,
            }
        if parameter["in"] == "query":
            _no_nul(parameter["schema"], parameter["name"] in ID_QUERIES)
        if parameter["name"] == "OpenAI-Beta":
            parameter["schema"] = {"type": "string", "pattern": BETA_HEADER_PATTERN}
            parameter["required"] = face == "admin" and beta_required
            parameter["description"] = "`chatkit_beta=v1`, with an admin key."
    return parameters


def _standard_errors(
    operation: dict[str, Any], parameters: list[Schema], face: str | None
) -> list[int]:
    """Sets the operation's security from its ``face``; the errors any such operation has."""
    standard: list[int] = []
    if face == "admin":  # 400: the beta header, and ids checked for their kind and length
        operation["security"] = [{ADMIN_KEY: []}]
        standard = [400, 401]
    elif face == "admin_only":
        operation["security"] = [{ADMIN_KEY: []}]
        standard = [401]
    elif face == "client":
        operation["security"] = [{CLIENT_SECRET: []}]
        standard = [401, 429]
    elif "security" in operation:  # the route named its credentials (EITHER_CREDENTIAL)
        standard = [400, 401, 429]
    elif any(p["name"] == "signature" and p["in"] == "query" for p in parameters):
        operation["security"] = [{SIGNED_LINK: []}]
        standard = [404]
    has_input = "requestBody" in operation or any(p["in"] != "path" for p in parameters)
    if face and has_input:
        standard.append(400)  # a value out of range, of the wrong type, with a NUL character
    if "requestBody" in operation:
        standard.append(413)  # api/body_limits.py: every route's body has a ceiling
    return standard


def _no_nul(schema: Schema, is_id: bool) -> None:
    """Query strings with a NUL character are refused (no stored object holds one)."""
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "string" and not {"enum", "const", "pattern"} & set(option):
            option["pattern"] = NO_NUL
            if is_id:
                option["maxLength"] = MAX_ID_LENGTH


def _drop_placeholder(response: dict[str, Any]) -> None:
    """FastAPI's "any JSON" 200 stays beside a route's own media types; drop it there."""
    content = response.get("content", {})
    if len(content) > 1 and content.get("application/json", {}).get("schema") == {}:
        del content["application/json"]


def _self_description() -> dict[str, Any]:
    return {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {
            "200": {
                "description": "The OpenAPI 3.1 document of this server.",
                "content": {"application/json": {"schema": {"type": "object"}}},
                "headers": {"x-request-id": REQUEST_ID_HEADER},
            }
        },
    }
