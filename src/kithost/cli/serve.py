"""``kithost serve`` and ``kithost migrate``, with the banner serve prints on its way up."""

from __future__ import annotations

import logging
import logging.config
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kithost.cli.common import database_label, run, run_keys
from kithost.pid_file import pid_file
from kithost.settings import Settings
from kithost.workflows.builtin_ids import DEMO_WORKFLOW_ID

if TYPE_CHECKING:
    from kithost.services import Services
    from kithost.store.api_keys import ApiKeyRepository


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(serve)


def migrate() -> None:
    """Apply database migrations (serve does this too)."""

    async def nothing(_keys: ApiKeyRepository) -> None:
        return None

    run_keys(nothing)  # migrates on the way
    typer.echo(f"database is up to date: {Settings().resolved_database_url.split('@')[-1]}")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (KITHOST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (KITHOST_PORT).")] = None,
    workers: Annotated[
        str | None,
        typer.Option(help="Server processes sharing the port, or `auto` (KITHOST_WORKERS)."),
    ] = None,
) -> None:
    """Migrate, make a first admin key if none exists, and serve the API."""
    import uvicorn

    from kithost.observability.logging import log_config, resolve_format
    from kithost.serving import uvicorn_options

    settings = Settings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    processes = _process_count(settings, workers)
    first_key, workflow_id, model_line = run(_startup)
    bound_url = f"http://{_url_host(settings.host)}:{settings.port}"
    client_url = _client_url(settings)
    if first_key:
        typer.echo(_first_key_banner(first_key, client_url, workflow_id))
    typer.echo(model_line)
    if settings.demo_signin:
        typer.echo(f"Chat in a browser: {client_url}/  (admin console: {client_url}/admin)")
    typer.echo(f"kithost is serving on {bound_url} (database: {database_label(settings)})")
    log_format = resolve_format(settings.log_format)
    logging_config = log_config(log_format, settings.log_level)  # signed links redacted in it
    logging.config.dictConfig(logging_config)
    if processes > 1:
        _share_metrics(settings.data_dir)
    # For `kithost workflows reload` (uvicorn serves in this process); removed on the way out.
    with pid_file(settings.data_dir):
        uvicorn.run(
            "kithost.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=processes,
            log_level=settings.log_level,
            proxy_headers=True,
            **{**uvicorn_options(settings), "log_config": logging_config},
            # After the drain (app.drain_on_terminate) only followers of other processes' runs
            # can still be connected; they reconnect elsewhere.
            timeout_graceful_shutdown=5,
        )


def _process_count(settings: Settings, option: str | None) -> int:
    """``--workers`` (else ``KITHOST_WORKERS``) as a number; ``auto`` is one per usable core.

    Several processes are refused without Redis and PostgreSQL: each would keep its own rate
    limits in memory (N times the limit a session was given), and SQLite serves one process.
    """
    from kithost.store.database import is_sqlite

    wanted: int | str = option if option is not None else settings.workers
    if wanted == "auto":
        count = len(os.sched_getaffinity(0))
    else:
        try:
            count = int(wanted)
        except ValueError:
            raise typer.BadParameter(
                f"expected a number of processes or `auto`, not {wanted!r}", param_hint="--workers"
            ) from None
        if count < 1:
            raise typer.BadParameter("at least 1 process", param_hint="--workers")
    if count > 1:
        missing = []
        if not settings.redis_url:
            missing.append("KITHOST_REDIS_URL (rate limits shared by the processes)")
        if is_sqlite(settings.resolved_database_url):
            missing.append("a PostgreSQL KITHOST_DATABASE_URL (SQLite serves one process)")
        if missing:
            typer.echo(
                f"kithost: {count} worker processes need " + " and ".join(missing) + "; set "
                "them, or run one process (--workers 1).",
                err=True,
            )
            raise typer.Exit(2)
    return count


def _share_metrics(data_dir: Path) -> None:
    """Several workers: each writes its metrics to files in one directory (emptied now: what a
    previous run left would be counted again), and ``/metrics`` on any worker sums them."""
    from kithost.observability.metrics import MULTIPROCESS_DIR_VARIABLE

    directory = (data_dir / "metrics").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)  # the workers inherit it


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


_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _client_url(settings: Settings) -> str:
    """Where the banners tell clients to go: KITHOST_PUBLIC_URL when set; for a wildcard bind
    (0.0.0.0, ::, as in a container) this machine's loopback, not the unusable 0.0.0.0."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = _LOOPBACK_FOR_WILDCARD.get(settings.host, settings.host)
    return f"http://{_url_host(host)}:{settings.port}"


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
