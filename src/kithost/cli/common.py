"""What the command groups share: running work on a migrated database, and printing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kithost.core.errors import KithostError, NotFound
from kithost.settings import Settings

if TYPE_CHECKING:
    from kithost.services import Services
    from kithost.store.api_keys import ApiKeyRepository

# The heavy imports (the Agents SDK, ChatKit) happen inside the commands that need them, so
# that `kithost keys …` or `kithost --help` answer at once.


def run[T](work: Callable[[Services], Awaitable[T]], *, looks_up: bool = False) -> T:
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

    return run_async(main, looks_up=looks_up)


def run_keys[T](work: Callable[[ApiKeyRepository], Awaitable[T]]) -> T:
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

    return run_async(main)


def run_async[T](main: Callable[[], Awaitable[T]], *, looks_up: bool = False) -> T:
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


def database_label(settings: Settings) -> str:
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
        f"(database: {database_label(Settings())}; run from the folder kithost serves from, "
        "or set KITHOST_DATABASE_URL or KITHOST_DATA_DIR as the server has them)"
    )


def nothing_found(what: str) -> None:
    typer.echo(f"No {what} {_where_looked()}.", err=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))
