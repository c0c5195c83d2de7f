"""The ``kithost`` command: serve, migrate, and operator tools for keys and sessions."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from kithost.core.errors import KithostError, NotFound
from kithost.core.pagination import ListParams
from kithost.core.traces import traces_to_wire
from kithost.importer.command import register_import
from kithost.pid_file import PID_FILE, pid_file
from kithost.settings import Settings
from kithost.vector_stores_cli import register_vector_stores
from kithost.workflows.builtin_ids import DEMO_WORKFLOW_ID

if TYPE_CHECKING:
    from kithost.services import Services
    from kithost.store.api_keys import ApiKeyRepository
    from kithost.workflows.loader import LoadResult

# The heavy imports (the Agents SDK, ChatKit) happen inside the commands that need them, so
# that `kithost keys …` or `kithost --help` answer at once.

T = TypeVar("T")

app = typer.Typer(
    help="kithost: OpenAI's hosted ChatKit API, on your own machine.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Admin API keys (Bearer keys for the control plane).", no_args_is_help=True
)
sessions_app = typer.Typer(
    help="ChatKit sessions, for operators and quick trials.", no_args_is_help=True
)
workflows_app = typer.Typer(
    help="Workflows: Agent Builder exports and declarative files.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(sessions_app, name="sessions")
app.add_typer(workflows_app, name="workflows")
register_import(app)
register_vector_stores(app)


def _run[T](work: Callable[[Services], Awaitable[T]], *, looks_up: bool = False) -> T:
    """Run ``work`` with freshly built services on a migrated database.

    ``looks_up``: the command reads something by id, so "not found" names the database read.
    """
    from kithost.services import open_services

    async def main() -> T:
        services = await open_services(Settings())
        try:
            return await work(services)
        finally:
            await services.close()

    return _run_async(main, looks_up=looks_up)


def _run_keys[T](work: Callable[[ApiKeyRepository], Awaitable[T]]) -> T:
    """Run ``work`` with the API key repository on a migrated database; nothing else loads."""
    from kithost.store.api_keys import ApiKeyRepository
    from kithost.store.database import create_engine
    from kithost.store.migrate import upgrade

    async def main() -> T:
        engine = create_engine(Settings().resolved_database_url)
        try:
            await upgrade(engine)
            return await work(ApiKeyRepository(engine))
        finally:
            await engine.dispose()

    return _run_async(main)


def _run_async[T](main: Callable[[], Awaitable[T]], *, looks_up: bool = False) -> T:
    async def guarded() -> T:
        return await main()

    try:
        return asyncio.run(guarded())
    except KithostError as error:
        message = error.message
        if looks_up and isinstance(error, NotFound):
            message = f"{message.rstrip('.')} {_where_looked()}."
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from None


def _database_label(settings: Settings) -> str:
    """The database URL with its password hidden, and a relative SQLite path made absolute:
    which file that is depends on the folder the command runs from."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    path = url.database
    if url.drivername.startswith("sqlite") and path and path != ":memory:":
        url = url.set(database=str(Path(path).resolve()))
    return url.render_as_string(hide_password=True)


def _where_looked() -> str:
    return (
        f"(database: {_database_label(Settings())}; run from the folder kithost serves from, "
        "or set KITHOST_DATABASE_URL or KITHOST_DATA_DIR as the server has them)"
    )


def _nothing_found(what: str) -> None:
    typer.echo(f"No {what} {_where_looked()}.", err=True)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


@app.command()
def migrate() -> None:
    """Apply database migrations (serve does this too)."""

    async def nothing(_keys: ApiKeyRepository) -> None:
        return None

    _run_keys(nothing)  # migrates on the way
    typer.echo(f"database is up to date: {Settings().resolved_database_url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (KITHOST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (KITHOST_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Server processes sharing the port.")] = 1,
) -> None:
    """Migrate, make a first admin key if none exists, and serve the API."""
    import uvicorn

    from kithost.serving import uvicorn_options
    from kithost.serving.log_redaction import redact_handlers

    settings = Settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    first_key, workflow_id, model_line = _run(_startup)
    base_url = f"http://{settings.host}:{settings.port}"
    if first_key:
        typer.echo(_first_key_banner(first_key, base_url, workflow_id))
    typer.echo(model_line)
    if settings.demo_signin:
        typer.echo(f"Chat in a browser: {base_url}/  (admin console: {base_url}/admin)")
    typer.echo(f"kithost is serving on {base_url} (database: {_database_label(settings)})")
    logging.basicConfig(level=settings.log_level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    redact_handlers(logging.getLogger().handlers)  # signed links never reach a log
    # For `kithost workflows reload` (uvicorn serves in this process); removed on the way out.
    with pid_file(settings.data_dir):
        uvicorn.run(
            "kithost.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=settings.log_level,
            proxy_headers=True,
            **uvicorn_options(settings),  # read deadlines, keep-alive, redacted logs
            # After the drain (app.drain_on_terminate) only followers of other processes' runs
            # can still be connected; they reconnect elsewhere.
            timeout_graceful_shutdown=5,
        )


async def _startup(services: Services) -> tuple[str | None, str, str]:
    """Make a first admin key if none exists; pick the workflow to suggest.

    Returns the new key (or None), a workflow id for the snippet — the first user workflow that
    can run when a model provider is configured, else the offline demo — and lines describing
    the model and what workflows cannot run or still need (their findings).
    """
    from kithost.workflows.report import banner_lines

    key = None
    if not services.settings.api_keys and not await services.api_keys.count_active():
        _record, key = await services.api_keys.create("first key (made by serve)")
    own = [v for v in services.workflows.list() if v.source != "builtin"]
    usable = [v for v in own if v.unavailable_reason is None]
    folder = services.settings.workflows_dir
    if services.agent_services.configured and own:
        config = services.agent_services.provider.config
        where = config.base_url or "OpenAI"
        line = f"Workflows: {len(own)} from {folder}/, answered by {where} ({config.api})."
        line = "\n".join([line, *banner_lines(own)])
        return key, (usable[0].id if usable else DEMO_WORKFLOW_ID), _with_search(line, services)
    if own:
        line = (
            f"Workflows: {len(own)} from {folder}/, but no model provider is configured "
            "(OPENAI_API_KEY or OPENAI_BASE_URL); the offline wf_kithost_demo answers meanwhile."
        )
        line = "\n".join([line, *banner_lines(own)])
    else:
        line = f"Workflows: none in {folder}/; the offline wf_kithost_demo answers."
    return key, DEMO_WORKFLOW_ID, _with_search(line, services)


def _with_search(line: str, services: Services) -> str:
    """The banner's line on file search: hybrid (with what) or keyword only (and why)."""
    choice = services.vector_search
    return f"{line}\nFile search: {choice.description}." if choice is not None else line


def _first_key_banner(key: str, base_url: str, workflow_id: str) -> str:
    return f"""
A new admin API key was made. It is shown only now; kithost keeps only its hash.

    {key}

It is your app backend's secret (the docs call it KITHOST_ADMIN_KEY; kithost itself does not
read that variable: its own setting for extra keys is KITHOST_API_KEYS). In the backend's shell:

    export KITHOST_ADMIN_KEY={key}

Create a ChatKit session with the official Python SDK:

    import os
    from openai import OpenAI

    client = OpenAI(base_url="{base_url}/v1", api_key=os.environ["KITHOST_ADMIN_KEY"])
    session = client.beta.chatkit.sessions.create(
        user="user_123", workflow={{"id": "{workflow_id}"}}
    )
    print(session.client_secret)
"""


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "cli",
) -> None:
    """Make an admin API key and print it once."""
    record, key = _run_keys(lambda keys: keys.create(name))
    typer.echo(f"{record.id}  {record.name}\n\n    {key}\n\nThis key is shown only once.")


@keys_app.command("list")
def keys_list() -> None:
    """List admin keys made by kithost (never the keys themselves)."""
    records = _run_keys(lambda keys: keys.list())
    if not records:
        _nothing_found("admin keys made by kithost")
    for record in records:
        state = "active" if record.active else "revoked"
        typer.echo(f"{record.id}  {record.hint}  {state:8}  {record.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an admin key by its id (from ``kithost keys list``)."""
    if not _run_keys(lambda keys: keys.revoke(key_id)):
        typer.secho(f"error: no active key with id {key_id}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1)
    typer.echo(f"revoked {key_id}")


@sessions_app.command("create")
def sessions_create(
    user: Annotated[str, typer.Option(help="The end user the session belongs to.")],
    workflow: Annotated[str, typer.Option(help="Workflow id.")] = "wf_kithost_demo",
    version: Annotated[str | None, typer.Option(help="Workflow version.")] = None,
    expires_in: Annotated[int | None, typer.Option(help="Seconds until expiry (1..600).")] = None,
) -> None:
    """Create a session and print it, client secret included."""
    body: dict[str, Any] = {"user": user, "workflow": {"id": workflow}}
    if version:
        body["workflow"]["version"] = version
    if expires_in is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": expires_in}

    async def work(services: Services) -> dict[str, Any]:
        session, secret = await services.sessions.create(body)
        return session.to_wire(client_secret=secret)

    _print_json(_run(work))


@sessions_app.command("list")
def sessions_list(
    user: Annotated[str | None, typer.Option(help="Only this user's sessions.")] = None,
    status: Annotated[str | None, typer.Option(help="active, expired or cancelled.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """List sessions, newest first."""
    if status not in (None, "active", "expired", "cancelled"):
        raise typer.BadParameter("status must be active, expired or cancelled")

    async def work(services: Services) -> list[Any]:
        page = await services.sessions.list(ListParams(limit=limit), user=user, status=status)  # type: ignore[arg-type]
        return page.data

    sessions = _run(work)
    if not sessions:
        _nothing_found("sessions")
    for session in sessions:
        typer.echo(f"{session.id}  {session.status():9}  {session.user}  {session.workflow.id}")


@sessions_app.command("cancel")
def sessions_cancel(session_id: str) -> None:
    """Cancel a session: its client secret stops working at once."""
    session = _run(lambda services: services.sessions.cancel(session_id), looks_up=True)
    typer.echo(f"{session.id}  {session.status()}")


@workflows_app.command("list")
def workflows_list() -> None:
    """List the workflows and versions a session may name (the newest is the default)."""

    from kithost.workflows.report import status

    async def work(services: Services) -> list[Any]:
        return [
            (v, services.workflows.resolve(v.id).version == v.version)
            for v in services.workflows.list()
        ]

    for version, default in _run(work):
        mark = "*" if default else " "
        typer.echo(
            f"{version.id}  {mark}{version.version:10}  {version.source:13}  "
            f"{status(version):11}  {version.name}"
        )
        if version.unavailable_reason:
            typer.echo(f"    {version.unavailable_reason}")


@workflows_app.command("check")
def workflows_check(
    folder: Annotated[Path, typer.Argument(help="Folder to check (KITHOST_WORKFLOWS_DIR).")],
) -> None:
    """Load every file in FOLDER: each problem as file:line: reason, and for every workflow
    what it uses (hosted tools, guardrails, models) and how that runs on the configured
    provider. Exit code 1 when a file cannot be loaded or a workflow cannot run here."""

    from kithost.workflows.agent_services import AgentServices
    from kithost.workflows.hosted.setup import hosted_tools
    from kithost.workflows.loader import load_folder
    from kithost.workflows.providers import ProviderConfig
    from kithost.workflows.report import check_lines

    async def check() -> LoadResult:
        # No database needed: only the files are read and imported.
        settings = Settings()
        provider = ProviderConfig.from_settings(settings)
        agents = AgentServices(
            provider,
            hosted_tools(settings, provider),
            read_bytes=_no_bytes,
            record_spans=_no_spans,
        )
        try:
            return load_folder(folder, agents, log_problems=False)
        finally:
            await agents.close()

    result = asyncio.run(check())
    for version in result.versions:
        typer.echo("\n".join(check_lines(version)))
    for problem in result.problems:
        typer.secho(f"{problem.path}:{problem.line or 1}: {problem.reason}", err=True, fg="red")
    unavailable = [v for v in result.versions if v.unavailable_reason]
    for version in unavailable:
        typer.secho(
            f"{version.id} version {version.version} cannot run on this server: "
            f"{version.unavailable_reason}",
            err=True,
            fg="red",
        )
    if result.problems or unavailable or not folder.is_dir():
        if not folder.is_dir():
            typer.secho(f"{folder}: not a folder", err=True, fg="red")
        raise typer.Exit(code=1)


async def _no_bytes(_attachment_id: str) -> bytes:
    return b""


async def _no_spans(_spans: list[Any]) -> None:
    return None


@workflows_app.command("reload")
def workflows_reload() -> None:
    """Tell the running server (its pid file under KITHOST_DATA_DIR) to re-read the folder."""
    pid_file = Settings().data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        typer.secho(f"error: no running kithost found through {pid_file}", err=True, fg="red")
        raise typer.Exit(code=1) from None
    typer.echo(f"asked kithost (pid {pid}) to reload its workflows")


@app.command()
def traces(thread_id: str) -> None:
    """Print the recorded runs of a thread (sessions with tracing enabled) as JSON."""

    async def work(services: Services) -> dict[str, Any]:
        await services.threads.get(thread_id)
        return traces_to_wire(await services.traces.for_thread(thread_id))

    found = _run(work, looks_up=True)
    if not found["data"]:
        _nothing_found(f"traces for {thread_id} (only sessions with tracing on record them)")
    _print_json(found)


def main() -> None:
    app()
