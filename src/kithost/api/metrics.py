"""``GET /metrics``: Prometheus's text format, for the admin key, for anyone, or not at all
(``KITHOST_METRICS``). An operator's page, not part of the API: left out of the OpenAPI spec."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from kithost.api.deps import AppServices
from kithost.core.errors import NotFound
from kithost.observability.metrics import exposition

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def prometheus_metrics(
    services: AppServices, authorization: Annotated[str | None, Header()] = None
) -> Response:
    access = services.settings.metrics
    if access == "off":
        raise NotFound("Metrics are off on this server (KITHOST_METRICS=off).")
    if access == "admin":
        await services.admin_auth.authenticate(authorization)
    body, content_type = exposition()
    return Response(body, media_type=content_type)
