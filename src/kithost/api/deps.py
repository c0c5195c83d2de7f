"""Dependencies that route signatures read like types: ``AppServices``, ``AdminKey``."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from kithost.core.admin_auth import bearer_token
from kithost.core.context import RequestContext
from kithost.core.errors import InvalidRequest, RateLimited, Unauthenticated
from kithost.core.limits import check_ids, check_json_depth
from kithost.services import Services

BETA_HEADER_VALUE = "chatkit_beta=v1"


# Async on purpose: FastAPI runs a plain-function dependency in a thread pool, on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


AppServices = Annotated[Services, Depends(get_services)]


async def require_admin_key(
    services: AppServices,
    authorization: Annotated[str | None, Header()] = None,
    openai_beta: Annotated[str | None, Header(alias="OpenAI-Beta")] = None,
) -> None:
    """Authenticate the admin key, then check the beta header (auth comes first, as hosted)."""
    await services.admin_auth.authenticate(authorization)
    if services.settings.require_beta_header and not _has_chatkit_beta(openai_beta):
        raise InvalidRequest(
            "You must provide the 'OpenAI-Beta' header to access the Chatkit API. Please try "
            "again by setting the header 'OpenAI-Beta: chatkit_beta=v1'.",
            code="invalid_beta",
        )


async def admin_request(
    request: Request, _admin: Annotated[None, Depends(require_admin_key)]
) -> None:
    """``require_admin_key``, then the ids in the path (bounded before any query)."""
    check_ids(request.path_params)


def _has_chatkit_beta(header: str | None) -> bool:
    return bool(header) and BETA_HEADER_VALUE in [
        part.strip() for part in (header or "").split(",")
    ]


AdminKey = Depends(admin_request)


async def require_admin_key_only(
    services: AppServices, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The admin key, no beta header: ``/v1/files`` and ``/v1/vector_stores`` are not ChatKit
    (the SDKs send ``OpenAI-Beta: assistants=v2`` there). Their ids are shape-checked by the
    retrieval service before any query (an unknown one is OpenAI's 404)."""
    await services.admin_auth.authenticate(authorization)


AdminKeyOnly = Depends(require_admin_key_only)


async def json_body(request: Request) -> Any:
    """The request's JSON body; an empty body is ``{}`` (the SDKs send none on cancel)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    check_json_depth(raw)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The API expects a JSON payload, "
            "but what was sent was not valid JSON.",
            code="invalid_json",
        ) from None


def public_base_url(request: Request, services: Services) -> str:
    """Where browsers reach kithost: ``KITHOST_PUBLIC_URL``, else the URL of this request."""
    return (services.settings.public_url or str(request.base_url)).rstrip("/")


async def client_context(
    request: Request,
    services: AppServices,
    authorization: Annotated[str | None, Header()] = None,
) -> RequestContext:
    """Authenticate a client secret and count the request against the session's limit."""
    secret = bearer_token(authorization)
    if secret is None:
        raise Unauthenticated("Missing bearer authentication in header (the client secret).")
    session = await services.sessions.authenticate(secret)
    request.state.session_id = session.id  # for the request's log line
    try:
        await services.rate_limiter.hit(session.id, session.max_requests_per_1_minute)
    except RateLimited:
        record_refusal(services, "session", session.workflow.id)
        raise
    check_ids(request.path_params)
    return RequestContext(
        session=session,
        public_url=public_base_url(request, services),
        request_id=request.scope.get("state", {}).get("request_id"),
    )


def record_refusal(services: Services, limit_name: str, workflow_id: str) -> None:
    """Count a 429 for the Overview (in memory; written every few seconds)."""
    services.refusals.note(limit_name, workflow_id, time.time())


ClientContext = Annotated[RequestContext, Depends(client_context)]
