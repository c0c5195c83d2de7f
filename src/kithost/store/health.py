"""The database's side of ``/healthz``: one round trip that proves a connection works."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping(engine: AsyncEngine) -> None:
    """Run ``SELECT 1`` on a pooled connection; raises if the database cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
