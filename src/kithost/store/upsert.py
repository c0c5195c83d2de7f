"""``INSERT … ON CONFLICT`` for the two dialects kithost runs on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, and_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def _insert(conn: AsyncConnection, table: Table) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    key: Sequence[str],
    update: Sequence[str],
    guard: Sequence[str] = (),
) -> None:
    """Insert ``values``, or update the ``update`` columns of the row that has the same ``key``.

    With ``guard``, the existing row is updated only if it already has the same values in those
    columns (say, the same owner); otherwise it is left alone.
    """
    statement = _insert(conn, table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in update},
        where=and_(*(table.c[name] == statement.excluded[name] for name in guard))
        if guard
        else None,
    )
    await conn.execute(statement)


async def insert_once(
    conn: AsyncConnection, table: Table, values: dict[str, Any], key: Sequence[str]
) -> bool:
    """Insert ``values`` unless a row with the same ``key`` exists; True if inserted."""
    statement = (
        _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=list(key))
    )
    result = await conn.execute(statement)
    return bool(result.rowcount)
