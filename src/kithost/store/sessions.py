"""Sessions as rows: insert, look up by id or by secret digest, cancel, list."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.pagination import ListParams, Page
from kithost.core.sessions import (
    ChatKitConfiguration,
    ChatSession,
    SessionStatus,
    SessionWorkflow,
)
from kithost.store.database import single_statements
from kithost.store.pagination import paginate
from kithost.store.tables import sessions

# Built once: a statement made per request costs more CPU than its round trip to PostgreSQL.
_INSERT = insert(sessions)
_BY_ID = select(sessions).where(sessions.c.id == bindparam("session_id"))
_BY_SECRET_HASH = select(sessions).where(sessions.c.secret_hash == bindparam("secret_hash"))


class SessionRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._single = single_statements(engine)

    async def insert(self, session: ChatSession, secret_hash: str) -> None:
        row = {
            "id": session.id,
            "secret_hash": secret_hash,
            "user_id": session.user,
            "workflow_id": session.workflow.id,
            "workflow_version": session.workflow.version,
            "state_variables": session.workflow.state_variables,
            "tracing_enabled": session.workflow.tracing_enabled,
            "configuration": session.configuration.to_wire(),
            "max_requests_per_1_minute": session.max_requests_per_1_minute,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
        }
        async with self._single.begin() as conn:
            await conn.execute(_INSERT, row)

    async def get(self, session_id: str) -> ChatSession | None:
        async with self._single.connect() as conn:
            row = (await conn.execute(_BY_ID, {"session_id": session_id})).first()
        return _session(row) if row else None

    async def get_by_secret_hash(self, secret_hash: str) -> tuple[ChatSession, str] | None:
        """Return the session holding this secret digest, with the stored digest to compare."""
        async with self._single.connect() as conn:
            result = await conn.execute(_BY_SECRET_HASH, {"secret_hash": secret_hash})
            row = result.first()
        return (_session(row), row.secret_hash) if row else None

    async def cancel(self, session_id: str) -> ChatSession | None:
        """Mark the session cancelled (once: a second cancel keeps the first time)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.cancelled_at.is_(None))
                .values(cancelled_at=time.time())
            )
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        return _session(row) if row else None

    async def claim_upload(self, session_id: str, max_files: int) -> bool:
        """Count one more upload for the session unless it already made ``max_files``.

        A single conditional UPDATE, so the bound holds with several server processes.
        """
        async with self._single.begin() as conn:
            result = await conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.upload_count < max_files)
                .values(upload_count=sessions.c.upload_count + 1)
            )
        return bool(result.rowcount)

    async def list(
        self,
        params: ListParams,
        user: str | None = None,
        status: SessionStatus | None = None,
        workflow_id: str | None = None,
    ) -> Page[ChatSession]:
        scope = select(sessions)
        if user is not None:
            scope = scope.where(sessions.c.user_id == user)
        if workflow_id is not None:
            scope = scope.where(sessions.c.workflow_id == workflow_id)
        if status is not None:
            scope = scope.where(*_status_filter(status, time.time()))
        async with self._engine.connect() as conn:
            page = await paginate(conn, sessions, scope, params)
        return Page(data=[_session(row) for row in page.data], has_more=page.has_more)


def _status_filter(status: SessionStatus, now: float) -> list[Any]:
    if status == "cancelled":
        return [sessions.c.cancelled_at.is_not(None)]
    if status == "expired":
        return [sessions.c.cancelled_at.is_(None), sessions.c.expires_at <= now]
    return [sessions.c.cancelled_at.is_(None), sessions.c.expires_at > now]


def _session(row: Row[Any]) -> ChatSession:
    return ChatSession(
        id=row.id,
        user=row.user_id,
        workflow=SessionWorkflow(
            id=row.workflow_id,
            version=row.workflow_version,
            state_variables=row.state_variables,
            tracing_enabled=row.tracing_enabled,
        ),
        created_at=int(row.created_at),
        expires_at=int(row.expires_at),
        max_requests_per_1_minute=row.max_requests_per_1_minute,
        configuration=ChatKitConfiguration.from_wire(row.configuration),
        cancelled_at=int(row.cancelled_at) if row.cancelled_at is not None else None,
    )
