"""``GET /healthz``: 200 once the server is ready (database reachable, schema migrated), 503
``draining`` while it shuts down."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from kithost.api.deps import AppServices
from kithost.api.openapi import health_responses

router = APIRouter()


@router.get("/healthz", operation_id="healthz", responses=health_responses())
async def healthz(services: AppServices) -> Any:
    if services.runs.stopping:
        # Shutting down (SIGTERM): a load balancer should send new requests elsewhere.
        return JSONResponse({"status": "draining", "runs": services.runs.running}, status_code=503)
    async with services.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ok"}
