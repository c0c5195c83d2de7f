"""The async engine: one per process, with per-dialect settings that matter in production."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass(frozen=True)
class PoolSizing:
    """PostgreSQL's connection pool (``KITHOST_DB_*``); the defaults serve the CLI's commands."""

    size: int = 20
    max_overflow: int = 10
    recycle_seconds: int = 1800


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, pool: PoolSizing = PoolSizing()) -> AsyncEngine:
    """Create the engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No ping before each checkout (a round trip on every request): connections are recycled
    # by age, and one found dead fails its request with a 503 (lost_database_connection) while
    # SQLAlchemy renews the whole pool, so the client's retry finds fresh connections.
    return create_async_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_recycle=pool.recycle_seconds,
        pool_pre_ping=False,
    )


def single_statements(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for work that is one statement: on PostgreSQL each statement commits by itself.

    SQLAlchemy wraps every use of a connection in BEGIN … COMMIT (or ROLLBACK after a read):
    three round trips for a one-statement read or write, which is atomic on its own. This view
    of the same pool skips them. SQLite keeps the engine as is: there, switching a connection's
    mode is a hop to aiosqlite's thread, dearer than what it saves.
    """
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def lost_connection(error: BaseException) -> bool:
    """Whether ``error`` is the database connection going away (server restart, network)."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
