"""``create_app(settings)``: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kithost import __version__
from kithost.api import (
    console,
    conversation,
    files,
    files_api,
    health,
    metrics,
    runs,
    server_threads,
    sessions,
    threads,
    usage,
    users,
    vector_stores,
    webhooks,
    workflows,
)
from kithost.api.body_limits import BodyLimits, BodySizeGuard
from kithost.api.cors import BrowserCORS
from kithost.api.errors import install_error_handlers
from kithost.api.middleware import RequestContextMiddleware
from kithost.api.openapi import install_openapi
from kithost.services import Services, open_services
from kithost.settings import Settings

log = logging.getLogger("kithost")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; its services open (and the schema migrates) at startup."""
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await open_services(resolved)
        app.state.services = services
        reload_on_hangup(services)
        await services.runs.start()
        await services.webhook_dispatcher.start()
        drain_on_terminate(services)
        services.retrieval.start_worker()
        services.retention.start(services.settings.retention_interval_seconds)
        services.refusals.start()
        if services.vector_search is not None and services.vector_search.index is not None:
            services.vector_search.index.start_backfill()  # chunks ingested without vectors
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="kithost",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    install_error_handlers(app)
    install_openapi(app, resolved.require_beta_header)
    # Innermost, so that a 413 still gets CORS headers and a request id.
    app.add_middleware(BodySizeGuard, limits=BodyLimits.from_settings(resolved))
    app.add_middleware(BrowserCORS, origins=resolved.cors_origins)
    app.add_middleware(RequestContextMiddleware)
    for router in (
        health.router,
        metrics.router,
        sessions.router,
        threads.router,
        server_threads.router,
        conversation.router,
        runs.router,
        files.router,
        files_api.router,
        vector_stores.router,
        webhooks.router,
        users.router,
        usage.router,
        workflows.router,
        console.router,
    ):
        app.include_router(router)
    app.mount("/static", console.static_files(), name="static")
    return app


def reload_on_hangup(services: Services) -> None:
    """``SIGHUP`` (``kithost workflows reload``) re-reads the workflows folder in place."""
    if not hasattr(signal, "SIGHUP"):
        return

    def reload() -> None:
        result = services.reload_workflows()
        log.info(
            "workflows reloaded: %d loaded, %d skipped", len(result.versions), len(result.problems)
        )

    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)


def drain_on_terminate(services: Services) -> None:
    """``SIGTERM`` drains: ``/healthz`` 503 at once; after ``KITHOST_DRAIN_NOTICE_SECONDS``
    (for the load balancer to notice) no new runs, and running answers get
    ``KITHOST_DRAIN_SECONDS`` to finish (the rest are interrupted); then uvicorn shuts down.

    uvicorn's own handler (installed before the app starts) does the shutdown; a second
    ``SIGTERM`` goes straight to it.
    """
    shutdown = signal.getsignal(signal.SIGTERM)
    if not callable(shutdown):
        return  # not under uvicorn's signal handling (an embedded app): nothing to hand over to
    loop = asyncio.get_running_loop()

    async def drain_then_shut_down() -> None:
        try:
            notice = services.settings.drain_notice_seconds
            if notice > 0:
                log.info("SIGTERM: /healthz says draining; serving %.0f s more", notice)
                await asyncio.sleep(notice)
            log.info("SIGTERM: draining for up to %.0f s", services.settings.drain_seconds)
            await services.runs.drain(services.settings.drain_seconds)
        finally:
            shutdown(signal.SIGTERM, None)

    def on_terminate() -> None:
        if services.runs.stopping:
            shutdown(signal.SIGTERM, None)
            return
        services.runs.announce_stop()
        _background.add(loop.create_task(drain_then_shut_down()))

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, on_terminate)


_background: set[asyncio.Task[None]] = set()
