"""``kithost webhooks``: endpoints that receive signed events, and their deliveries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from kithost.cli.common import nothing_found, run_async
from kithost.core.pagination import ListParams
from kithost.settings import Settings

if TYPE_CHECKING:
    from kithost.webhooks.model import WebhookDelivery
    from kithost.webhooks.service import WebhookService

webhooks_app = typer.Typer(
    help="Webhook endpoints: signed POSTs when runs end and threads are created.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")


def run_webhooks[T](work: Callable[[WebhookService], Awaitable[T]]) -> T:
    """Run ``work`` with the webhook service on a migrated database; nothing else loads."""
    from kithost.store.database import create_engine
    from kithost.store.migrate import upgrade
    from kithost.store.server_secrets import get_or_create_secret
    from kithost.store.webhooks import WebhookRepository
    from kithost.webhooks.service import WebhookService
    from kithost.webhooks.signing import SIGNING_KEY_NAME, WebhookSigner

    async def main() -> T:
        engine = create_engine(Settings().resolved_database_url)
        try:
            await upgrade(engine)
            signer = WebhookSigner(await get_or_create_secret(engine, SIGNING_KEY_NAME))
            return await work(WebhookService(WebhookRepository(engine), signer))
        finally:
            await engine.dispose()

    return run_async(main, looks_up=True)


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Argument(help="Where to POST events (http:// or https://).")],
    events: Annotated[
        str,
        typer.Option(
            help="Comma-separated: thread.created, run.completed, run.failed, "
            "run.cancelled, run.interrupted."
        ),
    ],
    description: Annotated[str | None, typer.Option(help="A note to recognise it by.")] = None,
) -> None:
    """Add an endpoint; print its id and its signing secret."""
    chosen = [kind.strip() for kind in events.split(",") if kind.strip()]
    endpoint, secret = run_webhooks(lambda webhooks: webhooks.create(url, chosen, description))
    typer.echo(f"id: {endpoint.id}")
    typer.echo(f"url: {endpoint.url}")
    typer.echo(f"events: {', '.join(endpoint.events)}")
    typer.echo(f"secret: {secret}")


@webhooks_app.command("list")
def webhooks_list(limit: Annotated[int, typer.Option(min=1, max=100)] = 100) -> None:
    """List endpoints, newest first."""
    page = run_webhooks(lambda webhooks: webhooks.list(ListParams(limit=limit)))
    if not page.data:
        nothing_found("webhook endpoints")
    for endpoint in page.data:
        state = "enabled" if endpoint.enabled else "disabled"
        typer.echo(f"{endpoint.id}  {state:8}  {endpoint.url}  {','.join(endpoint.events)}")


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: str) -> None:
    """Delete an endpoint and its deliveries."""
    run_webhooks(lambda webhooks: webhooks.delete(endpoint_id))
    typer.echo(f"deleted {endpoint_id}")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    endpoint_id: str, limit: Annotated[int, typer.Option(min=1, max=100)] = 20
) -> None:
    """An endpoint's deliveries, newest first: status, attempts, last answer or error."""
    page = run_webhooks(lambda webhooks: webhooks.deliveries(endpoint_id, ListParams(limit=limit)))
    if not page.data:
        typer.echo("no deliveries yet", err=True)
    for delivery in page.data:
        typer.echo(_delivery_line(delivery))


@webhooks_app.command("resend")
def webhooks_resend(endpoint_id: str, delivery_id: str) -> None:
    """Send a delivery again now (same webhook-id)."""
    delivery = run_webhooks(lambda webhooks: webhooks.resend(endpoint_id, delivery_id))
    typer.echo(_delivery_line(delivery))


@webhooks_app.command("secret")
def webhooks_secret(
    endpoint_id: str,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new secret (the old one stops at once).")
    ] = False,
) -> None:
    """Print an endpoint's signing secret (whsec_…)."""
    if rotate:
        secret = run_webhooks(lambda webhooks: webhooks.rotate_secret(endpoint_id))
    else:
        secret = run_webhooks(lambda webhooks: webhooks.secret(endpoint_id))
    typer.echo(secret)


def _delivery_line(delivery: WebhookDelivery) -> str:
    answer = str(delivery.last_status_code or "-")
    line = f"{delivery.id}  {delivery.event_type:15}  {delivery.status:9}  "
    line += f"attempts {delivery.attempts}  {answer}"
    return f"{line}  {delivery.last_error}" if delivery.last_error else line
