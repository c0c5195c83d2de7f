"""``kithost workflows``: list what sessions may name, check a folder, reload a server."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kithost.cli.common import run
from kithost.pid_file import PID_FILE
from kithost.settings import Settings

if TYPE_CHECKING:
    from kithost.services import Services
    from kithost.workflows.loader import LoadResult

workflows_app = typer.Typer(
    help="Workflows: Agent Builder exports and declarative files.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(workflows_app, name="workflows")


@workflows_app.command("list")
def workflows_list() -> None:
    """List the workflows and versions a session may name (the newest is the default)."""

    from kithost.workflows.report import status

    async def work(services: Services) -> list[Any]:
        return [
            (v, services.workflows.resolve(v.id).version == v.version)
            for v in services.workflows.list()
        ]

    for version, default in run(work):
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
