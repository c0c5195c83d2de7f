"""``kithost import``: the command line around ``Importer``.

Exit status: 0 when everything came across, 1 when some threads or items failed (the summary
says which and why), 2 when the source could not be used or the run stopped early (bad key,
not a ChatKit API, unreachable), 130 when interrupted. Running the command again resumes.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import httpx
import typer
from sqlalchemy.exc import SQLAlchemyError

from kithost.importer.options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SOURCE_URL,
    ImportOptions,
    parse_since,
)
from kithost.importer.previews import PreviewCopier
from kithost.importer.progress import display_for
from kithost.importer.report import Summary
from kithost.importer.run import Importer
from kithost.importer.source import Source, SourceError
from kithost.importer.target import DryRunTarget, KithostTarget
from kithost.settings import Settings

EXIT_PARTIAL = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130
PREVIEW_TIMEOUT_SECONDS = 60.0


def register(app: typer.Typer) -> None:
    app.command("import")(import_threads)


def import_threads(
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url",
            envvar="KITHOST_IMPORT_BASE_URL",
            help="The source API, ending in /v1 (never OPENAI_BASE_URL, which names the model "
            "provider).",
        ),
    ] = DEFAULT_SOURCE_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="KITHOST_IMPORT_API_KEY",
            show_envvar=True,
            help="The source's API key: the OpenAI project that owns the threads (never "
            "OPENAI_API_KEY, which kithost sends to the model provider).",
        ),
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="Only this user's threads (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only threads created at or after: a date (2025-10-01, UTC), an ISO 8601 "
            "time, or Unix seconds."
        ),
    ] = None,
    thread: Annotated[
        list[str] | None, typer.Option("--thread", help="Only this thread (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be imported; write nothing.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Threads imported at the same time.")
    ] = DEFAULT_CONCURRENCY,
    max_retries: Annotated[
        int,
        typer.Option(min=0, help="Retries per source request (a 429 waits for its Retry-After)."),
    ] = DEFAULT_MAX_RETRIES,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (progress stays on stderr).")
    ] = False,
    vector_stores: Annotated[
        bool,
        typer.Option(
            "--vector-stores",
            help="Import vector stores instead of threads: their ids, names, metadata, and the "
            "names and attributes of their files (add the files with `kithost vector-stores "
            "add`).",
        ),
    ] = False,
) -> None:
    """Import threads and items from OpenAI's hosted ChatKit (or any ChatKit API), keeping ids.

    Run it while the source still answers; run it again to resume or to pick up what is new.
    """
    if vector_stores:
        _import_vector_stores(base_url, api_key, max_retries, dry_run)
        return
    try:
        since_time = parse_since(since) if since is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since") from None
    settings = Settings()
    options = ImportOptions(
        base_url=base_url,
        api_key=api_key,
        users=tuple(user or ()),
        since=since_time,
        thread_ids=tuple(thread or ()),
        dry_run=dry_run,
        concurrency=concurrency,
        max_retries=max_retries,
        public_url=(settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/"),
    )
    try:
        summary = asyncio.run(_import(options, settings, plan_to_stdout=not json_output))
    except SourceError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=EXIT_UNUSABLE) from None
    except SQLAlchemyError as error:
        typer.secho(f"error: kithost's database: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=EXIT_UNUSABLE) from None
    except KeyboardInterrupt:
        typer.secho("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    typer.echo(summary.to_json() if json_output else summary.to_text())
    if summary.interrupted is not None:
        raise typer.Exit(code=EXIT_UNUSABLE)
    if not summary.ok:
        raise typer.Exit(code=EXIT_PARTIAL)


def _import_vector_stores(
    base_url: str, api_key: str | None, max_retries: int, dry_run: bool
) -> None:
    from kithost.importer.vector_stores import run_vector_store_import

    try:
        asyncio.run(run_vector_store_import(base_url, api_key, max_retries, dry_run, typer.echo))
    except SourceError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=EXIT_UNUSABLE) from None
    except SQLAlchemyError as error:
        typer.secho(f"error: kithost's database: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=EXIT_UNUSABLE) from None


async def _import(options: ImportOptions, settings: Settings, plan_to_stdout: bool) -> Summary:
    # Imported here: the services load the Agents SDK, which other commands need not wait for.
    from kithost.services import open_services

    plan = sys.stdout if plan_to_stdout else sys.stderr
    async with Source(options) as source:
        await source.check()  # before the database is touched
        if options.dry_run:
            dry = DryRunTarget.open(settings, options.public_url)
            try:
                return await Importer(options, source, dry, None, display_for(), plan).run()
            finally:
                await dry.close()
        services = await open_services(settings)
        try:
            target = KithostTarget(
                services.engine,
                KithostTarget.blob_storage(settings),
                services.link_signer,
                options.public_url,
            )
            transport = httpx.AsyncHTTPTransport(retries=2)
            async with httpx.AsyncClient(
                transport=transport, follow_redirects=True, timeout=PREVIEW_TIMEOUT_SECONDS
            ) as http:
                copier = PreviewCopier(target, http, source.base_url, source.api_key)
                return await Importer(options, source, target, copier, display_for()).run()
        finally:
            await services.close()
