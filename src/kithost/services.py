"""The process's long-lived objects, built once from settings and shared by HTTP and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.admin_auth import AdminAuthenticator
from kithost.core.session_service import SessionService
from kithost.core.thread_service import ThreadService
from kithost.settings import Settings
from kithost.store.api_keys import ApiKeyRepository
from kithost.store.blobs import LocalBlobStorage
from kithost.store.database import create_engine
from kithost.store.sessions import SessionRepository
from kithost.store.threads import ThreadRepository
from kithost.workflows.builtin import builtin_workflows
from kithost.workflows.registry import WorkflowRegistry


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    api_keys: ApiKeyRepository
    admin_auth: AdminAuthenticator
    workflows: WorkflowRegistry
    sessions: SessionService
    thread_repo: ThreadRepository
    threads: ThreadService
    blobs: LocalBlobStorage

    async def close(self) -> None:
        await self.engine.dispose()


def build_services(settings: Settings) -> Services:
    engine = create_engine(settings.resolved_database_url)
    api_keys = ApiKeyRepository(engine)
    workflows = WorkflowRegistry(builtin_workflows())
    thread_repo = ThreadRepository(engine)
    blobs = LocalBlobStorage(settings.data_dir / "files")
    return Services(
        settings=settings,
        engine=engine,
        api_keys=api_keys,
        admin_auth=AdminAuthenticator(settings.api_keys, api_keys),
        workflows=workflows,
        sessions=SessionService(SessionRepository(engine), workflows),
        thread_repo=thread_repo,
        threads=ThreadService(thread_repo, blobs),
        blobs=blobs,
    )
