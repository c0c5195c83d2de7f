"""The console: the chat at ``/``, the admin at ``/admin``, their static files, the demo sign-in.

The pages are static files from ``kithost/web`` that talk only to the public APIs (the
conversation plane with a client secret, the control plane with an admin key). The one
server-side piece is the demo sign-in, ``POST /demo/session``: what a real app's backend does
(mint a session for its signed-in user), here for anyone who asks, so it is off unless
``KITHOST_DEMO_SIGNIN=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from kithost.api.deps import AppServices, json_body
from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.sessions import DEFAULT_MAX_FILE_SIZE_MB, MAX_EXPIRES_SECONDS, StateValue
from kithost.core.validation import NonEmptyText, parse_model
from kithost.workflows.builtin import DEMO_WORKFLOW_ID

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_DIR = WEB_DIR / "static"

# The pages run only kithost's own scripts and styles, and call only kithost.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Widgets and image attachments may show pictures from elsewhere; they cannot run code.
        "img-src 'self' data: blob: https:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    # Other sites embed <kithost-chat>: module scripts are fetched with CORS.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}

# Generous limits for a person clicking around, where hosted defaults (10 a minute) would bite.
DEMO_REQUESTS_PER_MINUTE = 120
DEMO_MAX_FILE_SIZE_MB = 20
DEMO_MAX_FILES = 10

router = APIRouter(include_in_schema=False)


class ConsoleStaticFiles(StaticFiles):
    """``/static``: the console's scripts and styles, with the same protective headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(STATIC_HEADERS)
        return response


def static_files() -> ConsoleStaticFiles:
    return ConsoleStaticFiles(directory=STATIC_DIR)


def _page(name: str) -> FileResponse:
    return FileResponse(WEB_DIR / name, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/")
async def chat_page(services: AppServices) -> FileResponse:
    """The chat with the demo sign-in, or, when it is off, how to embed the chat instead."""
    return _page("index.html" if services.settings.demo_signin else "embed-help.html")


@router.get("/admin")
async def admin_page() -> FileResponse:
    return _page("admin.html")


@router.get("/embed-example")
async def embed_example_page() -> FileResponse:
    return _page("embed-example.html")


class DemoSessionRequest(BaseModel):
    """The demo sign-in's body: who, which workflow, and a few of the session's settings."""

    model_config = ConfigDict(extra="forbid")

    user: NonEmptyText = Field(max_length=512)
    workflow: NonEmptyText = DEMO_WORKFLOW_ID
    version: NonEmptyText | None = None
    state_variables: dict[StrictStr, StateValue] | None = None
    history: StrictBool = True
    max_file_size: Annotated[StrictInt, Field(ge=1, le=DEFAULT_MAX_FILE_SIZE_MB)] = (
        DEMO_MAX_FILE_SIZE_MB
    )
    max_files: Annotated[StrictInt, Field(ge=1, le=1000)] = DEMO_MAX_FILES
    expires_in: Annotated[StrictInt, Field(ge=1, le=MAX_EXPIRES_SECONDS)] = MAX_EXPIRES_SECONDS

    def session_body(self) -> dict[str, Any]:
        """The ``POST /v1/chatkit/sessions`` body this sign-in stands for."""
        workflow: dict[str, Any] = {"id": self.workflow}
        if self.version is not None:
            workflow["version"] = self.version
        if self.state_variables:
            workflow["state_variables"] = self.state_variables
        return {
            "user": self.user,
            "workflow": workflow,
            "expires_after": {"anchor": "created_at", "seconds": self.expires_in},
            "rate_limits": {"max_requests_per_1_minute": DEMO_REQUESTS_PER_MINUTE},
            "chatkit_configuration": {
                "file_upload": {
                    "enabled": True,
                    "max_file_size": self.max_file_size,
                    "max_files": self.max_files,
                },
                "history": {"enabled": self.history},
            },
        }


def _demo_enabled(services: AppServices) -> None:
    if not services.settings.demo_signin:
        raise NotFound(
            "The demo sign-in is off; start kithost with KITHOST_DEMO_SIGNIN=true to use it.",
            code="demo_signin_disabled",
        )


DemoEnabled = Depends(_demo_enabled)


@router.get("/demo/workflows", dependencies=[DemoEnabled])
async def demo_workflows(services: AppServices) -> Any:
    """The workflows the sign-in form offers (the default version of each)."""
    registry = services.workflows
    seen: dict[str, dict[str, Any]] = {}
    for version in registry.list():
        if version.id not in seen:
            default = registry.resolve(version.id)
            seen[version.id] = {
                "id": default.id,
                "name": default.name,
                "description": default.description,
                "starter_prompts": [prompt.wire() for prompt in default.starter_prompts],
            }
    return {"object": "list", "data": list(seen.values())}


@router.post("/demo/session", dependencies=[DemoEnabled])
async def demo_session(request: Request, services: AppServices) -> Any:
    """Mint a session for the chosen user and workflow through the control plane's service."""
    # A JSON content type cannot be sent cross-site without a CORS preflight, which these
    # paths never grant: another site's page cannot sign its visitors in here.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidRequest("Send the sign-in as application/json.", code="invalid_content_type")
    sign_in = parse_model(DemoSessionRequest, await json_body(request))
    session, secret = await services.sessions.create(sign_in.session_body())
    return session.to_wire(client_secret=secret)
