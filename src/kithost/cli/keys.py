"""``kithost keys``: admin API keys (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

import typer

from kithost.cli.common import nothing_found, run_keys

keys_app = typer.Typer(
    help="Admin API keys (Bearer keys for the control plane).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "cli",
) -> None:
    """Make an admin API key and print it once."""
    record, key = run_keys(lambda keys: keys.create(name))
    typer.echo(f"{record.id}  {record.name}\n\n    {key}\n\nThis key is shown only once.")


@keys_app.command("list")
def keys_list() -> None:
    """List admin keys made by kithost (never the keys themselves)."""
    records = run_keys(lambda keys: keys.list())
    if not records:
        nothing_found("admin keys made by kithost")
    for record in records:
        state = "active" if record.active else "revoked"
        typer.echo(f"{record.id}  {record.hint}  {state:8}  {record.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an admin key by its id (from ``kithost keys list``)."""
    if not run_keys(lambda keys: keys.revoke(key_id)):
        typer.secho(f"error: no active key with id {key_id}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1)
    typer.echo(f"revoked {key_id}")
