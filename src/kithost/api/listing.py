"""The query parameters every list endpoint shares: ``limit``, ``order``, ``after``, ``before``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from kithost.core.limits import check_id
from kithost.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListParams, Order


async def list_params(  # async: see get_services
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    order: Order = "desc",
    after: Annotated[str | None, Query(min_length=1)] = None,
    before: Annotated[str | None, Query(min_length=1)] = None,
) -> ListParams:
    check_id(after, "after")
    check_id(before, "before")
    return ListParams(limit=limit, order=order, after=after, before=before)


ListQuery = Annotated[ListParams, Depends(list_params)]
