"""CORS for the browser-facing endpoints only; the admin API stays same-origin."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

BROWSER_PATHS = ("/v1/chatkit/conversation", "/v1/chatkit/files", "/v1/chatkit/runs/")
THREAD_PATHS = "/v1/chatkit/threads/"


def is_browser_path(path: str) -> bool:
    """The conversation, files and runs paths, and a thread's runs (not the rest of threads)."""
    if path.startswith(BROWSER_PATHS):
        return True
    return path.startswith(THREAD_PATHS) and path.endswith("/runs")


class BrowserCORS:
    """Apply ``CORSMiddleware`` to the conversation and files paths, and pass others through."""

    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["x-request-id", "retry-after", "x-kithost-run-id"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_browser_path(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
