"""``create_app(settings)``: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kithost import __version__
from kithost.api import health, sessions, threads
from kithost.api.errors import install_error_handlers
from kithost.api.middleware import RequestContextMiddleware
from kithost.services import Services, build_services
from kithost.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the ASGI app; ``services`` may be supplied (tests, ``serve``), else built here."""
    resolved = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(resolved)
        try:
            yield
        finally:
            if owned:
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
    app.add_middleware(RequestContextMiddleware)
    for router in (health.router, sessions.router, threads.router):
        app.include_router(router)
    return app
