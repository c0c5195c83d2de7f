"""The process's long-lived objects, built once from settings and shared by HTTP and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.conversation.interrupted import save_interrupted
from kithost.conversation.server import KithostChatKitServer
from kithost.conversation.service import ConversationService
from kithost.conversation.uploads import Uploads
from kithost.core.admin_auth import AdminAuthenticator
from kithost.core.context import RequestContext
from kithost.core.rate_limit import SessionRateLimiter, storage_uri
from kithost.core.session_service import SessionService
from kithost.core.signing import FileLinks, LinkSigner
from kithost.core.thread_service import ThreadService
from kithost.core.uploads import UploadPolicy
from kithost.data_rights.retention import RetentionPolicy, RetentionSweeper
from kithost.data_rights.user_data import UserData
from kithost.observability import metrics
from kithost.observability.refusal_tally import RefusalTally
from kithost.retrieval.service import Retrieval
from kithost.retrieval.vector_index import IndexChoice, open_vector_index
from kithost.runs.backends import open_journal, open_signals
from kithost.runs.manager import RunManager
from kithost.runs.model import RunRecord
from kithost.runs.server_turns import ServerTurns
from kithost.settings import Settings
from kithost.store.api_keys import ApiKeyRepository
from kithost.store.attachments import AttachmentRepository
from kithost.store.blobs import LocalBlobStorage
from kithost.store.chatkit_store import SqlChatKitStore
from kithost.store.database import PoolSizing, create_engine
from kithost.store.migrate import upgrade
from kithost.store.retention import RetentionRepository
from kithost.store.runs import RunRepository
from kithost.store.server_secrets import get_or_create_secret
from kithost.store.sessions import SessionRepository
from kithost.store.threads import ThreadRepository
from kithost.store.traces import TraceRepository
from kithost.store.usage import UsageRepository
from kithost.store.user_data import UserDataRepository
from kithost.store.webhooks import WebhookRepository
from kithost.webhooks.delivery import WebhookDispatcher
from kithost.webhooks.service import WebhookService
from kithost.webhooks.signing import SIGNING_KEY_NAME, WebhookSigner
from kithost.workflows.agent_services import AgentServices
from kithost.workflows.approvals import Approvals
from kithost.workflows.builtin import builtin_workflows
from kithost.workflows.hosted.setup import hosted_tools
from kithost.workflows.loader import LoadResult, load_folder
from kithost.workflows.providers import ProviderConfig
from kithost.workflows.registry import WorkflowRegistry
from kithost.workflows.tracing import install_trace_processor

LINK_SIGNING_SECRET = "link_signing_key"  # noqa: S105 - the secret's name, not its value


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    api_keys: ApiKeyRepository
    admin_auth: AdminAuthenticator
    workflows: WorkflowRegistry
    sessions: SessionService
    threads: ThreadService
    rate_limiter: SessionRateLimiter
    link_signer: LinkSigner
    file_links: FileLinks
    uploads_policy: UploadPolicy
    uploads: Uploads
    conversation: ConversationService
    agent_services: AgentServices
    traces: TraceRepository
    retrieval: Retrieval
    runs: RunManager
    webhooks: WebhookService
    webhook_dispatcher: WebhookDispatcher
    server_turns: ServerTurns
    user_data: UserData
    retention: RetentionSweeper
    usage: UsageRepository
    refusals: RefusalTally
    vector_search: IndexChoice | None = None
    """How file search ranks (keyword only, or hybrid and with what), for the start banner."""

    def reload_workflows(self) -> LoadResult:
        """Read the workflows folder again; built-ins stay. Running turns are unaffected."""
        result = load_folder(self.settings.workflows_dir, self.agent_services)
        self.workflows.replace([*builtin_workflows(), *result.versions])
        return result

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            default_days=self.settings.thread_retention_days,
            per_workflow=self.workflows.retention_overrides(),
            session_purge_days=self.settings.session_purge_days,
        )

    async def close(self) -> None:
        await self.retention.close()
        await self.refusals.close()
        await self.runs.close()
        await self.webhook_dispatcher.close()
        await self.retrieval.close()
        if self.vector_search is not None and self.vector_search.index is not None:
            await self.vector_search.index.close()
        await self.agent_services.close()
        await self.engine.dispose()


async def open_services(settings: Settings) -> Services:
    """Connect, migrate the schema to the latest revision, and wire every component."""
    pool = PoolSizing(
        settings.db_pool_size, settings.db_max_overflow, settings.db_pool_recycle_seconds
    )
    engine = create_engine(settings.resolved_database_url, pool)
    metrics.watch_pool(engine)
    await upgrade(engine)
    api_keys = ApiKeyRepository(engine)
    workflows = WorkflowRegistry(builtin_workflows())
    session_repo = SessionRepository(engine)
    thread_repo = ThreadRepository(engine)
    attachment_repo = AttachmentRepository(engine)
    blobs = LocalBlobStorage(settings.data_dir / "files")
    link_signer = LinkSigner(await get_or_create_secret(engine, LINK_SIGNING_SECRET))
    policy = UploadPolicy(tuple(settings.upload_mime_types))

    links = FileLinks(link_signer)
    store = SqlChatKitStore(thread_repo, attachment_repo, blobs, links.refresh)
    uploads = Uploads(store, attachment_repo, session_repo, blobs, policy, links)
    traces = TraceRepository(engine)
    install_trace_processor()
    provider = ProviderConfig.from_settings(settings)
    vector_index = await open_vector_index(settings, provider, engine)
    # Files and vector stores; hybrid search when an embedding model is set.
    retrieval = Retrieval(
        engine,
        blobs,
        index=vector_index.index,
        lease_seconds=settings.ingestion_lease_seconds,
    )
    approvals = Approvals(settings.mcp_approval_timeout)
    agent_services = AgentServices(
        provider,
        hosted_tools(settings, provider, approvals, retrieval),
        read_bytes=lambda attachment_id: _read_attachment(uploads, attachment_id),
        record_spans=traces.add,
    )
    server = KithostChatKitServer(store, uploads, workflows, agent_services, approvals)

    async def keep_partial_answer(run: RunRecord, events: list[bytes]) -> None:
        session = await session_repo.get(run.session_id)
        if session is None or run.thread_id is None:
            return
        context = RequestContext(session=session, public_url=settings.public_url or "")
        await save_interrupted(server, run.thread_id, events, context)

    runs = RunManager(
        RunRepository(engine),
        open_journal(settings, engine),
        open_signals(settings, engine),
        keep_partial_answer,
        lease_seconds=settings.run_lease_seconds,
        events_ttl=settings.run_events_ttl,
    )
    sessions = SessionService(session_repo, workflows)
    threads = ThreadService(thread_repo, blobs)
    conversation = ConversationService(server, store, uploads)
    webhook_repo = WebhookRepository(engine)
    rate_limiter = SessionRateLimiter(storage_uri(settings.redis_url))
    signer = WebhookSigner(await get_or_create_secret(engine, SIGNING_KEY_NAME))
    usage = UsageRepository(engine)
    services = Services(
        settings=settings,
        engine=engine,
        api_keys=api_keys,
        admin_auth=AdminAuthenticator(settings.api_keys, api_keys),
        workflows=workflows,
        sessions=sessions,
        threads=threads,
        rate_limiter=rate_limiter,
        link_signer=link_signer,
        file_links=links,
        uploads_policy=policy,
        uploads=uploads,
        conversation=conversation,
        agent_services=agent_services,
        traces=traces,
        retrieval=retrieval,
        runs=runs,
        webhooks=WebhookService(webhook_repo, signer),
        webhook_dispatcher=WebhookDispatcher(
            webhook_repo,
            signer,
            retry_schedule=settings.webhook_retry_schedule,
            timeout_seconds=settings.webhook_timeout_seconds,
        ),
        server_turns=ServerTurns(sessions, threads, conversation, runs),
        user_data=UserData(UserDataRepository(engine), blobs, runs.journal, rate_limiter),
        retention=RetentionSweeper(
            RetentionRepository(engine),
            blobs,
            runs.journal,
            rate_limiter,
            lambda: services.retention_policy(),
        ),
        usage=usage,
        refusals=RefusalTally(usage),
        vector_search=vector_index,
    )
    services.reload_workflows()
    return services


async def _read_attachment(uploads: Uploads, attachment_id: str) -> bytes:
    return (await uploads.content(attachment_id)).data
