"""Fresh databases for a benchmark: an SQLite file, or a new database on the local PostgreSQL
(``KITHOST_TEST_POSTGRES_URL``, as for the tests), dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from tests.support.databases import POSTGRES_ADMIN_DSN


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def dsn(name: str) -> str:
    """The asyncpg DSN of database ``name`` on the admin DSN's server."""
    return POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


def sqlalchemy_url(name: str) -> str:
    host_part = POSTGRES_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host_part}/{name}"


@asynccontextmanager
async def postgres_database(prefix: str = "kithost_bench") -> AsyncIterator[str]:
    """Yield the name of a new, empty PostgreSQL database; drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_database(backend: str, workdir: Path) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of an empty ``sqlite`` or ``postgresql`` database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'kithost-{secrets.token_hex(4)}.db'}"
        return
    async with postgres_database() as name:
        yield sqlalchemy_url(name)
