"""Session use cases: create, cancel, look up, authenticate a client secret, list."""

from __future__ import annotations

import time
from typing import Any, Protocol

from kithost.core import ids
from kithost.core.errors import InvalidRequest, NotFound, Unauthenticated, invalid_id
from kithost.core.pagination import ListParams, Page
from kithost.core.secrets import digests_equal, hash_secret, new_client_secret
from kithost.core.sessions import (
    DEFAULT_EXPIRES_SECONDS,
    DEFAULT_REQUESTS_PER_MINUTE,
    ChatKitConfiguration,
    ChatSession,
    SessionCreate,
    SessionStatus,
    SessionWorkflow,
    state_variable_problem,
)
from kithost.core.validation import check_text, parse_model
from kithost.observability import metrics


class SessionRepo(Protocol):
    async def insert(self, session: ChatSession, secret_hash: str) -> None: ...
    async def get(self, session_id: str) -> ChatSession | None: ...
    async def get_by_secret_hash(self, secret_hash: str) -> tuple[ChatSession, str] | None: ...
    async def cancel(self, session_id: str) -> ChatSession | None: ...
    async def list(
        self,
        params: ListParams,
        user: str | None = None,
        status: SessionStatus | None = None,
        workflow_id: str | None = None,
    ) -> Page[ChatSession]: ...


class WorkflowCatalog(Protocol):
    def check(self, workflow_id: str, version: str | None) -> None:
        """Raise ``NotFound`` with the contract's message for an unknown id or version."""


class SessionService:
    def __init__(self, repo: SessionRepo, workflows: WorkflowCatalog):
        self._repo = repo
        self._workflows = workflows

    async def create(self, body: Any) -> tuple[ChatSession, str]:
        """Create a session from a request body; returns it with its one-time client secret."""
        request = parse_model(SessionCreate, body)
        problem = state_variable_problem(request.workflow.state_variables)
        if problem:
            message, code = problem
            raise InvalidRequest(message, param="workflow.state_variables", code=code)
        self._workflows.check(request.workflow.id, request.workflow.version)
        now = int(time.time())
        seconds = (
            request.expires_after.seconds if request.expires_after else DEFAULT_EXPIRES_SECONDS
        )
        limits = request.rate_limits
        session = ChatSession(
            # The id's time prefix is the creation time, as in hosted ids (hosted-api.md §1.4).
            id=ids.new_id(ids.SESSION_PREFIX, now),
            user=request.user,
            workflow=SessionWorkflow(
                id=request.workflow.id,
                version=request.workflow.version,
                state_variables=request.workflow.state_variables,
                tracing_enabled=request.workflow.tracing.enabled
                if request.workflow.tracing
                else True,
            ),
            created_at=now,
            expires_at=now + seconds,
            max_requests_per_1_minute=limits.max_requests_per_1_minute
            if limits
            else DEFAULT_REQUESTS_PER_MINUTE,
            configuration=ChatKitConfiguration.from_param(request.chatkit_configuration),
        )
        secret = new_client_secret(session.expires_at)
        await self._repo.insert(session, hash_secret(secret))
        metrics.session_created(session.workflow.id)
        return session, secret

    async def get(self, session_id: str) -> ChatSession:
        _check_session_id(session_id)
        session = await self._repo.get(session_id)
        if session is None:
            raise _not_found(session_id)
        return session

    async def cancel(self, session_id: str) -> ChatSession:
        """Cancel a session; idempotent, and the secret stops working at once.

        An expired session stays expired: its secret is already dead, and the contract reports
        ``status: "expired"`` once ``expires_at`` has passed (hosted-api.md §8 Q2, Q3).
        """
        session = await self.get(session_id)
        if session.status() == "expired":
            return session
        cancelled = await self._repo.cancel(session_id)
        if cancelled is None:
            raise _not_found(session_id)
        if session.status() == "active":  # a repeated cancel is not another one
            metrics.session_cancelled()
        return cancelled

    async def authenticate(self, client_secret: str) -> ChatSession:
        """Return the active session that issued ``client_secret``, or raise 401."""
        digest = hash_secret(client_secret)
        found = await self._repo.get_by_secret_hash(digest)
        if found is None or not digests_equal(found[1], digest):
            raise Unauthenticated("Invalid client secret provided.", code="invalid_client_secret")
        session = found[0]
        status = session.status()
        if status == "cancelled":
            raise Unauthenticated(
                "This session has been cancelled; request a new client secret.",
                code="session_cancelled",
            )
        if status == "expired":
            raise Unauthenticated(
                "This session has expired; request a new client secret.", code="session_expired"
            )
        return session

    async def list(
        self,
        params: ListParams,
        user: str | None = None,
        status: SessionStatus | None = None,
        workflow_id: str | None = None,
    ) -> Page[ChatSession]:
        return await self._repo.list(params, user=user, status=status, workflow_id=workflow_id)


def _check_session_id(session_id: str) -> None:
    check_text(session_id, "session_id")
    if not session_id.startswith(ids.SESSION_PREFIX.rstrip("_")):
        raise invalid_id("session_id", session_id, "cksess")


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"No session found with id '{session_id}'.", param="session_id")
