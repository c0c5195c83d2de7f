"""``kithost users``: a user's data, exported as one JSON file or erased (data rights)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kithost.cli.common import print_json, run

if TYPE_CHECKING:
    from kithost.services import Services

users_app = typer.Typer(
    help="A user's data: export it, or erase it (sessions, threads, files, runs).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


@users_app.command("export")
def users_export(
    user: Annotated[str, typer.Argument(help="The user id sessions were created with.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Everything of USER as JSON: sessions (no secrets), threads, items, feedback, runs, and
    attachments with their bytes (base64)."""

    async def work(services: Services) -> dict[str, Any]:
        return await services.user_data.export(user)

    data = run(work)
    if output is None:
        print_json(data)
        return
    output.write_text(json.dumps(data, indent=2), encoding="utf-8")
    typer.echo(
        f"{output}: {len(data['sessions'])} sessions, {len(data['threads'])} threads, "
        f"{len(data['items'])} items, {len(data['attachments'])} attachments, "
        f"{len(data['runs'])} runs",
        err=True,
    )


@users_app.command("erase")
def users_erase(
    user: Annotated[str, typer.Argument(help="The user id sessions were created with.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete everything of USER, then print a receipt (what was deleted, and when)."""
    if not yes and not _confirmed(user):
        typer.echo("Nothing erased.", err=True)
        raise typer.Exit(code=1)

    async def work(services: Services) -> dict[str, Any]:
        return await services.user_data.erase(user)

    print_json(run(work))


def _confirmed(user: str) -> bool:
    """Ask on the terminal, or read the answer from standard input (``echo y | kithost …``)."""
    question = f"Erase every session, thread, file and run of user {user!r}?"
    if sys.stdin.isatty():
        return typer.confirm(question, default=False)
    typer.echo(f"{question} [y/N] ", err=True, nl=False)
    answer = sys.stdin.readline().strip().lower()
    typer.echo("", err=True)
    return answer in ("y", "yes")
