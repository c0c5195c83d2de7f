"""Server-wide secrets kept in the database, so every process shares them without setup."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.store.tables import server_secrets
from kithost.store.upsert import insert_once


async def get_or_create_secret(engine: AsyncEngine, name: str) -> str:
    """Return the secret called ``name``, making it on first use (the first writer wins)."""
    async with engine.begin() as conn:
        await insert_once(
            conn,
            server_secrets,
            {"name": name, "value": secrets.token_urlsafe(48)},
            key=["name"],
        )
        value = await conn.scalar(
            select(server_secrets.c.value).where(server_secrets.c.name == name)
        )
    assert value is not None
    return str(value)
