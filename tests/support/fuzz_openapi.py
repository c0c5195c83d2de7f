"""Schemathesis against a running kithost: its own OpenAPI document, with kithost's credentials.

- The document is fetched from ``/v1/openapi.json`` of the process under test.
- OpenAPI links for create → get → delete chains are added where the document has none, so the
  stateful test reaches objects that exist instead of 404s on random ids.
- Credentials: the admin key (and the ChatKit beta header) for the control plane; a client
  secret of a fresh session, renewed before it expires, for the conversation plane.
- Every request is counted in a ``Tally``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, AuthContext, Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.support.chatkit_client import BETA_HEADERS
from tests.support.fuzz import ClientSecrets, Tally
from tests.support.process import ADMIN_KEY

DOCUMENT_PATH = "/v1/openapi.json"
AnyCase = Case[Any]
Operation = APIOperation[Any, Any, Any, Any]

# Checks of what the server does, whatever its document says.
SERVER_CHECKS = [
    "not_a_server_error",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]
# Checks that the server does what its document says.
DOCUMENT_CHECKS = [
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
]
# Seconds a request may take before the client gives up (a hang, not a slow answer).
REQUEST_TIMEOUT = 30.0


def is_conversation_plane(path: str) -> bool:
    """Operations a browser calls with a client secret."""
    return path == "/v1/chatkit/conversation" or path == "/v1/chatkit/files"


def fetch_document(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}{DOCUMENT_PATH}", timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


# (source path, method) → {link name: (target path, method, {parameter: expression})}, from the
# source's 200. Ids come from the created object's body, or the first object of a list. Not to
# operations that answer 404 for an id in their body (adding files to a store): a check takes
# any 404 after a create for the created object gone missing.
ID = "$response.body#/id"
FIRST = "$response.body#/data/0/id"
STORE = "$request.path.store_id"
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v1/chatkit/sessions", "post"): {
        "GetSession": ("/v1/chatkit/sessions/{session_id}", "get", {"session_id": ID}),
        "CancelSession": ("/v1/chatkit/sessions/{session_id}/cancel", "post", {"session_id": ID}),
    },
    ("/v1/chatkit/sessions", "get"): {
        "GetFirstSession": ("/v1/chatkit/sessions/{session_id}", "get", {"session_id": FIRST}),
    },
    ("/v1/chatkit/threads", "get"): {
        "GetFirstThread": ("/v1/chatkit/threads/{thread_id}", "get", {"thread_id": FIRST}),
        "ListFirstThreadItems": (
            "/v1/chatkit/threads/{thread_id}/items",
            "get",
            {"thread_id": FIRST},
        ),
        "ListFirstThreadRuns": (
            "/v1/chatkit/threads/{thread_id}/runs",
            "get",
            {"thread_id": FIRST},
        ),
        "DeleteFirstThread": ("/v1/chatkit/threads/{thread_id}", "delete", {"thread_id": FIRST}),
    },
    ("/v1/chatkit/threads/{thread_id}/runs", "get"): {
        "GetFirstRun": ("/v1/chatkit/runs/{run_id}", "get", {"run_id": FIRST}),
        "FollowFirstRun": ("/v1/chatkit/runs/{run_id}/events", "get", {"run_id": FIRST}),
        "CancelFirstRun": ("/v1/chatkit/runs/{run_id}/cancel", "post", {"run_id": FIRST}),
    },
    ("/v1/chatkit/webhooks", "post"): {
        name: ("/v1/chatkit/webhooks/{webhook_id}" + suffix, method, {"webhook_id": ID})
        for name, suffix, method in (
            ("GetWebhook", "", "get"),
            ("UpdateWebhook", "", "post"),
            ("GetWebhookSecret", "/secret", "get"),
            ("RotateWebhookSecret", "/rotate_secret", "post"),
            ("ListWebhookDeliveries", "/deliveries", "get"),
            ("DeleteWebhook", "", "delete"),
        )
    },
    ("/v1/files", "post"): {
        "GetFile": ("/v1/files/{file_id}", "get", {"file_id": ID}),
        "GetFileContent": ("/v1/files/{file_id}/content", "get", {"file_id": ID}),
        "DeleteFile": ("/v1/files/{file_id}", "delete", {"file_id": ID}),
    },
    ("/v1/vector_stores", "post"): {
        "GetStore": ("/v1/vector_stores/{store_id}", "get", {"store_id": ID}),
        "UpdateStore": ("/v1/vector_stores/{store_id}", "post", {"store_id": ID}),
        "SearchStore": ("/v1/vector_stores/{store_id}/search", "post", {"store_id": ID}),
        "ListStoreFiles": ("/v1/vector_stores/{store_id}/files", "get", {"store_id": ID}),
        "DeleteStore": ("/v1/vector_stores/{store_id}", "delete", {"store_id": ID}),
    },
    ("/v1/vector_stores/{store_id}/files", "post"): {
        name: (
            "/v1/vector_stores/{store_id}/files/{file_id}" + suffix,
            method,
            {"store_id": STORE, "file_id": ID},
        )
        for name, suffix, method in (
            ("GetStoreFile", "", "get"),
            ("UpdateStoreFile", "", "post"),
            ("GetStoreFileContent", "/content", "get"),
            ("RemoveStoreFile", "", "delete"),
        )
    },
    ("/v1/vector_stores/{store_id}/file_batches", "post"): {
        name: (
            "/v1/vector_stores/{store_id}/file_batches/{batch_id}" + suffix,
            method,
            {"store_id": STORE, "batch_id": ID},
        )
        for name, suffix, method in (
            ("GetBatch", "", "get"),
            ("ListBatchFiles", "/files", "get"),
            ("CancelBatch", "/cancel", "post"),
        )
    },
}


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """The document with LINKS added to each source's 200 answer (links it has are kept)."""
    document = copy.deepcopy(document)
    paths = document.get("paths", {})
    for (path, method), links in LINKS.items():
        source = paths.get(path, {}).get(method)
        ok = (source or {}).get("responses", {}).get("200")
        if ok is None or "$ref" in ok:
            continue
        existing = ok.setdefault("links", {})
        for name, (target, target_method, parameters) in links.items():
            if target_method not in paths.get(target, {}):
                continue
            pointer = target.replace("~", "~0").replace("/", "~1")
            existing.setdefault(
                name,
                {"operationRef": f"#/paths/{pointer}/{target_method}", "parameters": parameters},
            )
    return document


# Operations that refuse some requests their document allows, for reasons no schema states: a
# 400 there is no sign the document is wrong, so positive_data_acceptance is off for them.
SEMANTIC_REFUSALS = {
    **{
        f"GET {path}": "a cursor (after, before) must be the id of an object in the list"
        for path in (
            "/v1/chatkit/sessions",
            "/v1/chatkit/threads",
            "/v1/chatkit/threads/{thread_id}/items",
            "/v1/chatkit/threads/{thread_id}/runs",
            "/v1/files",
            "/v1/vector_stores",
            "/v1/vector_stores/{store_id}/files",
            "/v1/vector_stores/{store_id}/file_batches/{batch_id}/files",
            "/v1/chatkit/webhooks",
            "/v1/chatkit/webhooks/{webhook_id}/deliveries",
        )
    },
    "POST /v1/chatkit/files": "the bytes must be of the type they claim",
    "POST /v1/files": "the bytes must be of the type they claim",
    "GET /v1/files/{file_id}/content": "a file of purpose assistants is not for download",
    "POST /v1/chatkit/conversation": "ids must exist, audio must be base64 (test_fuzz_protocol)",
}
# Where the document and the server still disagree: (operation, check) → what differs. Each is
# for the document (or the server) to settle; then its line goes.
DOCUMENT_GAPS = {
    ("POST /v1/chatkit/sessions", "positive_data_acceptance"): (
        "an integer written 600.0 (rate_limits, expires_after.seconds) is an integer to JSON"
        " Schema and refused by the server (strict integers)"
    ),
    **{
        (f"POST {path}", "positive_data_acceptance"): (
            "chatkit_configuration's counts: an integer written 10.0 is refused, as above"
        )
        for path in ("/v1/chatkit/threads", "/v1/chatkit/threads/{thread_id}/messages")
    },
    ("POST /v1/vector_stores", "positive_data_acceptance"): (
        "chunking_strategy.static's sizes: an integer written 800.0 is refused, as above"
    ),
    ("POST /v1/files", "negative_data_rejection"): (
        "additionalProperties {type: string}: every multipart field is a string as sent, so"
        " Schemathesis's 'boolean' extra field arrives as the string 'true' and is accepted"
    ),
}


def checks_config(strict: bool) -> dict[str, Any]:
    enabled = SERVER_CHECKS + (DOCUMENT_CHECKS if strict else [])
    return {"enabled": False, **{name: {"enabled": True} for name in enabled}}


def operations_config() -> list[dict[str, Any]]:
    """Per operation, the checks SEMANTIC_REFUSALS and DOCUMENT_GAPS turn off."""
    off: dict[str, set[str]] = {label: {"positive_data_acceptance"} for label in SEMANTIC_REFUSALS}
    for label, check in DOCUMENT_GAPS:
        off.setdefault(label, set()).add(check)
    return [
        {"include-name": label, "checks": {check: {"enabled": False} for check in sorted(checks)}}
        for label, checks in off.items()
    ]


def load_schema(
    base_url: str, secrets: ClientSecrets, *, strict: bool, max_examples: int, max_steps: int
) -> OpenApiSchema:
    """The process's own document, ready to fuzz with kithost's credentials."""
    config = schemathesis.Config.from_dict(
        {
            "base-url": base_url,
            "request-timeout": REQUEST_TIMEOUT,
            "checks": checks_config(strict),
            "generation": {"mode": "all", "max-examples": max_examples},
            "operations": operations_config(),
            # Only the links above: those inferred from the document are guesses (a store's
            # id taken from a file's), and a wrong guess reads as a lost object.
            "phases": {"stateful": {"max-steps": max_steps, "inference": {"algorithms": []}}},
        }
    )
    schema = schemathesis.openapi.from_dict(with_links(fetch_document(base_url)), config=config)
    schema.auth(refresh_interval=None)(kithost_auth(secrets))
    return schema


def kithost_auth(secrets: ClientSecrets) -> type:
    """An auth provider class (Schemathesis makes its own instance) bound to ``secrets``."""

    class KithostAuth:
        def get(self, case: AnyCase, context: AuthContext) -> str:
            return secrets.current() if is_conversation_plane(case.path) else ADMIN_KEY

        def set(self, case: AnyCase, data: str, context: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"
            negated_headers = case.meta is not None and case.meta.is_negative_at(
                ParameterLocation.HEADER
            )
            if case.path.startswith("/v1/chatkit/") and not negated_headers:
                case.headers.update(BETA_HEADERS)

    return KithostAuth


def fuzz_operation(
    operation: Operation, session: requests.Session, hypothesis_settings: settings
) -> list[tuple[str, str]]:
    """Fuzz one operation with valid and invalid data (and the document's examples, if any);
    each problem found (kind, what happened: Hypothesis-minimized, with a curl line)."""
    strategies = [
        ("examples", strategy)
        for strategy in operation.schema.get_strategies_from_examples(operation)
    ] + [
        (mode.value, operation.as_strategy(generation_mode=mode))
        for mode in GenerationMode
        if mode.is_positive or can_be_invalid(operation)
    ]
    problems: list[tuple[str, str]] = []
    for name, strategy in strategies:

        @hypothesis_settings
        @given(case=strategy)
        def run(case: AnyCase) -> None:
            case.call_and_validate(session=session)

        try:
            run()
        except Unsatisfiable:
            # Every value of every parameter is a string once sent (a path, a header), so no
            # invalid request exists: nothing to send.
            assert name == GenerationMode.NEGATIVE.value, f"{operation.label}: no {name} data"
        except (
            Exception,
            BaseExceptionGroup,
        ) as error:  # Schemathesis's FailureGroup is the latter
            # A check's failure, a server gone, a timeout: each reported, and on to the next.
            problems.append((f"{operation.label} ({name} data)", str(error)))
    return problems


# What makes a string parameter something a request can break (a string outside its constraints).
CONSTRAINTS = {"pattern", "minLength", "maxLength", "enum", "const", "format"}


def can_be_invalid(operation: Operation) -> bool:
    """Whether any request can break the document: not when its only parameters are strings in
    the path or headers, since whatever is sent there is a string. (Hypothesis would spend
    seconds per operation looking for invalid requests before giving up.)"""
    if len(operation.body) or len(operation.query) or len(operation.cookies):
        return True
    parameters = [*operation.path_parameters, *operation.headers]
    return any(_constrains(parameter.definition.get("schema", {})) for parameter in parameters)


def _constrains(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_constrains(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    if CONSTRAINTS & set(schema) or "$ref" in schema:
        return True
    if schema.get("type", "string") not in ("string", "null"):
        return True
    return any(_constrains(value) for key, value in schema.items() if key in ("anyOf", "oneOf"))


def counting_session(tally: Tally) -> requests.Session:
    """A requests session that counts every answer (probes made by checks included)."""
    session = requests.Session()

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        tally.count(response.status_code)

    hooks: list[Callable[..., Any]] = session.hooks["response"]
    hooks.append(count)
    return session
