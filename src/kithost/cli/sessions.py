"""``kithost sessions``: ChatKit sessions for operators (create, list, cancel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kithost.cli.common import nothing_found, print_json, run
from kithost.core.pagination import ListParams

if TYPE_CHECKING:
    from kithost.services import Services

sessions_app = typer.Typer(
    help="ChatKit sessions, for operators and quick trials.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")


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

    print_json(run(work))


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

    sessions = run(work)
    if not sessions:
        nothing_found("sessions")
    for session in sessions:
        typer.echo(f"{session.id}  {session.status():9}  {session.user}  {session.workflow.id}")


@sessions_app.command("cancel")
def sessions_cancel(session_id: str) -> None:
    """Cancel a session: its client secret stops working at once."""
    session = run(lambda services: services.sessions.cancel(session_id), looks_up=True)
    typer.echo(f"{session.id}  {session.status()}")
