"""``GET /healthz``: 200 once the server is ready (database reachable, schema migrated)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from kithost.api.deps import AppServices

router = APIRouter()


@router.get("/healthz")
async def healthz(services: AppServices) -> Any:
    async with services.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ok"}
