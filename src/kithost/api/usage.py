"""``GET /v1/chatkit/usage`` (an extension, admin key): the admin console's Overview."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices
from kithost.api.openapi import ok
from kithost.core.limits import check_id
from kithost.core.usage_report import report, window
from kithost.core.validation import check_text

router = APIRouter(prefix="/v1/chatkit/usage", dependencies=[AdminKey])


@router.get("", operation_id="beta.chatkit.usage.retrieve", responses=ok(wire.ChatKitUsage))
async def usage(
    services: AppServices,
    range_: Annotated[
        Literal["24h", "7d", "30d"],
        Query(alias="range", description="`24h` (hourly buckets), `7d` or `30d` (daily, UTC)."),
    ] = "24h",
    workflow_id: Annotated[str | None, Query(min_length=1)] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> Any:
    """Conversations, messages, active users, tokens per workflow and model, time to first
    token, errors and rate-limit refusals, bucketed per hour (24 h) or day (7 d, 30 d), from
    kithost's own database."""
    check_text(user, "user")
    check_id(workflow_id, "workflow_id")
    await services.refusals.flush()  # this process's latest, not up to 5 s late
    win = window(range_, time.time())
    counts = await services.usage.counts(win, workflow_id, user)
    return report(win, counts, workflow_id, user)
