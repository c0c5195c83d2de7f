"""Keyset pagination over ``(created_at, seq)``, shared by every list query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from kithost.core.errors import InvalidRequest
from kithost.core.pagination import ListParams, Page


async def _cursor_position(
    conn: AsyncConnection, table: Table, scope: Select[Any], cursor: str, param: str
) -> tuple[float, int]:
    row = (
        await conn.execute(
            scope.with_only_columns(table.c.created_at, table.c.seq).where(table.c.id == cursor)
        )
    ).first()
    if row is None:
        raise InvalidRequest(
            f"Invalid '{param}': no object with id '{cursor}' in this list.",
            param=param,
            code="invalid_value",
        )
    return float(row.created_at), int(row.seq)


def _beyond(table: Table, position: tuple[float, int], forward: bool) -> Any:
    # Row-value comparison: portable between SQLite (>= 3.15) and PostgreSQL, and index-friendly.
    key = tuple_(table.c.created_at, table.c.seq)
    bound = tuple_(*position)
    return key > bound if forward else key < bound


async def paginate(
    conn: AsyncConnection, table: Table, scope: Select[Any], params: ListParams
) -> Page[Any]:
    """Run ``scope`` (a SELECT over ``table``, already filtered) as one page of ``params``."""
    ascending = params.order == "asc"
    query = scope
    if params.after:
        position = await _cursor_position(conn, table, scope, params.after, "after")
        query = query.where(_beyond(table, position, forward=ascending))
    if params.before:
        position = await _cursor_position(conn, table, scope, params.before, "before")
        query = query.where(_beyond(table, position, forward=not ascending))
    ordering = (
        (table.c.created_at.asc(), table.c.seq.asc())
        if ascending
        else (table.c.created_at.desc(), table.c.seq.desc())
    )
    rows = (await conn.execute(query.order_by(*ordering).limit(params.limit + 1))).all()
    return Page(data=list(rows[: params.limit]), has_more=len(rows) > params.limit)
