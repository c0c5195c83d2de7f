"""``kithost users``: a user's data, exported as one JSON file or erased (data rights)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

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

    async def work(services: Services) -> dict[str, int]:
        export = await services.user_data.export(user)
        with _opened(output) as sink:
            async for chunk in export.chunks:
                sink.write(chunk)
        return export.counts

    counts = run(work)
    if output is None:
        sys.stdout.buffer.write(b"\n")
        return
    typer.echo(
        f"{output}: {counts['sessions']} sessions, {counts['threads']} threads, "
        f"{counts['items']} items, {counts['attachments']} attachments, "
        f"{counts['runs']} runs",
        err=True,
    )


@contextmanager
def _opened(output: Path | None) -> Iterator[BinaryIO]:
    """The file to write (replaced only once complete), or standard output."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as sink:
            yield sink
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


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
