"""``kithost retention run``: one retention sweep now (or at a time you give, for a test)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from kithost.cli.common import print_json, run

if TYPE_CHECKING:
    from kithost.data_rights.retention import SweepReport
    from kithost.services import Services

retention_app = typer.Typer(
    help="Thread retention and the purge of old sessions.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(
    now: Annotated[
        float | None,
        typer.Option(help="Sweep as if it were this Unix time (default: the clock's)."),
    ] = None,
) -> None:
    """Delete the threads past their retention and the sessions past the grace period, once;
    prints what was deleted (``"swept": false``: another process was sweeping)."""

    async def work(services: Services) -> SweepReport:
        return await services.retention.sweep(time.time() if now is None else now)

    print_json(run(work).to_json())
