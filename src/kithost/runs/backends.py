"""Which journal and which wake-ups a deployment gets: Redis when configured, else the database."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.runs.journal import Journal
from kithost.runs.redis_journal import RedisJournal
from kithost.runs.signals import PostgresSignals, RedisSignals, Signals
from kithost.settings import Settings
from kithost.store.runs import SqlJournal


def open_journal(settings: Settings, engine: AsyncEngine) -> Journal:
    """A Redis stream per run when Redis is configured, else the ``run_events`` table."""
    if settings.redis_url:
        return RedisJournal(settings.redis_url, settings.run_events_ttl)
    return SqlJournal(engine)


def open_signals(settings: Settings, engine: AsyncEngine) -> Signals:
    """Redis pub/sub, else PostgreSQL ``LISTEN``/``NOTIFY``; SQLite serves one process."""
    if settings.redis_url:
        return RedisSignals(settings.redis_url)
    if engine.dialect.name == "postgresql":
        url = make_url(settings.resolved_database_url).set(drivername="postgresql")
        return PostgresSignals(url.render_as_string(hide_password=False))
    return Signals()
