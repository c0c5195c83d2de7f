"""``create_app(settings)``: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kithost import __version__
from kithost.api import conversation, files, health, sessions, threads
from kithost.api.cors import BrowserCORS
from kithost.api.errors import install_error_handlers
from kithost.api.middleware import RequestContextMiddleware
from kithost.services import open_services
from kithost.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; its services open (and the schema migrates) at startup."""
    resolved = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await open_services(resolved)
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(
        title="kithost",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    install_error_handlers(app)
    app.add_middleware(BrowserCORS, origins=resolved.cors_origins)
    app.add_middleware(RequestContextMiddleware)
    for router in (
        health.router,
        sessions.router,
        threads.router,
        conversation.router,
        files.router,
    ):
        app.include_router(router)
    return app
