"""``kithost vector-stores``: kithost's own vector stores, for operators.

``add`` is the second half of moving over from OpenAI: after ``kithost import --vector-stores``
made the stores under their hosted ids, it uploads the team's own copies of the files (folders
too), gives each the attributes its namesake had on OpenAI, and ingests them in this process
with a progress bar (a running ``kithost serve`` may take part: both follow the database).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kithost.core.errors import KithostError
from kithost.settings import Settings

if TYPE_CHECKING:
    from kithost.retrieval.models import VectorStoreFile
    from kithost.retrieval.service import Retrieval
    from kithost.services import Services


# What a folder contributes: the kinds of file ingestion reads (a file named on the command
# line is always added, whatever its name).
FOLDER_SUFFIXES = frozenset(
    {
        ".txt",
        ".md",
        ".markdown",
        ".rst",
        ".html",
        ".htm",
        ".xhtml",
        ".json",
        ".jsonl",
        ".csv",
        ".tsv",
        ".pdf",
        ".docx",
    }
)
POLL_SECONDS = 0.25
PAGE = 100

vector_stores_app = typer.Typer(
    help="Vector stores for file search (FileSearchTool), kithost's own.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(vector_stores_app, name="vector-stores")


def _run[T](work: Callable[[Services], Awaitable[T]]) -> T:
    from kithost.services import open_services

    async def main() -> T:
        services = await open_services(Settings())
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except KithostError as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from None


@vector_stores_app.command("list")
def list_stores() -> None:
    """Every store: id, name, files by status, and files still to add (from an import)."""

    async def work(services: Services) -> None:
        from kithost.core.pagination import ListParams

        retrieval = services.retrieval
        after: str | None = None
        shown = 0
        while True:
            page = await retrieval.list_stores(ListParams(limit=PAGE, order="asc", after=after))
            for store in page.data:
                counts = store.file_counts
                waiting = len(await retrieval.expected_files(store.id))
                line = (
                    f"{store.id}  {store.name or '(no name)'}  {counts.completed} completed, "
                    f"{counts.in_progress} in progress, {counts.failed} failed"
                )
                typer.echo(f"{line}, {waiting} to add" if waiting else line)
                shown += 1
            if not page.has_more or not page.data:
                break
            after = page.data[-1].id
        if not shown:
            typer.echo("No vector stores.", err=True)

    _run(work)


@vector_stores_app.command("create")
def create_store(
    name: Annotated[str, typer.Option(help="The store's name.")] = "",
    store_id: Annotated[
        str | None,
        typer.Option("--id", help="Keep this id (vs_…), e.g. the one an export names."),
    ] = None,
) -> None:
    """Make an empty store; prints its id."""

    async def work(services: Services) -> None:
        store = await services.retrieval.create_store(name, store_id=store_id)
        typer.echo(store.id)

    _run(work)


@vector_stores_app.command("add")
def add_files(
    store_id: Annotated[str, typer.Argument(help="The store (vs_…).")],
    paths: Annotated[list[Path], typer.Argument(help="Files, or folders to add recursively.")],
) -> None:
    """Upload files (folders too) into a store and ingest them, with a progress bar.

    A file named like one the store had on OpenAI (see `kithost import --vector-stores`) gets
    that file's attributes. Files already in the store by that name are left alone. Exit code
    1 when a file could not be read or ingested.
    """
    found, skipped = _gather(paths)
    if not found:
        typer.secho("error: no files to add in " + ", ".join(map(str, paths)), err=True, fg="red")
        raise typer.Exit(code=1)

    async def work(services: Services) -> bool:
        services.retrieval.start_worker()  # ingest here, whether or not a server runs
        return await _add(services.retrieval, store_id, found)

    if skipped:
        typer.echo(f"skipped {skipped} files of other kinds in the folders", err=True)
    if not _run(work):
        raise typer.Exit(code=1)


@vector_stores_app.command("files")
def list_files(store_id: Annotated[str, typer.Argument(help="The store (vs_…).")]) -> None:
    """A store's files with their status (and why one failed), then those still to add."""

    async def work(services: Services) -> None:
        retrieval = services.retrieval
        for item in await _store_files(retrieval, store_id):
            problem = f"  {item.last_error.message}" if item.last_error else ""
            attributes = f"  {json.dumps(item.attributes)}" if item.attributes else ""
            typer.echo(f"{item.id}  {item.status:11}  {item.filename}{attributes}{problem}")
        for expected in await retrieval.expected_files(store_id):
            typer.echo(f"{'(to add)':29}  {'':11}  {expected.filename}")

    _run(work)


@vector_stores_app.command("search")
def search(
    store_id: Annotated[str, typer.Argument(help="The store (vs_…).")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    max_results: Annotated[int, typer.Option("--max", min=1, max=50)] = 5,
) -> None:
    """Search a store as FileSearchTool does: ranked chunks with file names and scores."""

    async def work(services: Services) -> None:
        results = await services.retrieval.search_results([store_id], query, max_results)
        typer.echo(f"{len(results.hits)} results ({results.mode} search)")
        for number, hit in enumerate(results.hits, 1):
            text = " ".join(" ".join(hit.chunks).split())
            excerpt = text if len(text) <= 300 else text[:299] + "…"
            typer.echo(f"\n[{number}] {hit.filename}  score {hit.score:.3f}\n{excerpt}")

    _run(work)


def _gather(paths: list[Path]) -> tuple[list[Path], int]:
    """The files to add, in order, each once; and how many files folders held of other kinds."""
    found: dict[Path, None] = {}
    skipped = 0
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path)
                if not child.is_file() or any(p.startswith(".") for p in relative.parts):
                    continue
                if child.suffix.lower() in FOLDER_SUFFIXES:
                    found[child.resolve()] = None
                else:
                    skipped += 1
        elif path.is_file():
            found[path.resolve()] = None
        else:
            typer.secho(f"error: {path}: no such file or folder", err=True, fg="red")
            raise typer.Exit(code=1)
    return list(found), skipped


async def _store_files(retrieval: Retrieval, store_id: str) -> list[VectorStoreFile]:
    from kithost.core.pagination import ListParams

    items: list[VectorStoreFile] = []
    after: str | None = None
    while True:
        page = await retrieval.list_store_files(
            store_id, ListParams(limit=PAGE, order="asc", after=after)
        )
        items.extend(page.data)
        if not page.has_more or not page.data:
            return items
        after = page.data[-1].id


async def _add(retrieval: Retrieval, store_id: str, paths: list[Path]) -> bool:
    """Upload, queue, and wait for every file; True when all were ingested."""
    await retrieval.get_store(store_id)  # a clear 'no such store' before any upload
    expected = {item.filename: item for item in await retrieval.expected_files(store_id)}
    present = {item.filename for item in await _store_files(retrieval, store_id)}
    progress = _Progress(len(paths))
    queued: dict[str, Path] = {}
    ok = True
    for path in paths:
        name = path.name
        if name in present:
            progress.note(f"{name}: already in {store_id}, left as it is")
            progress.advance()
            continue
        try:
            data = await asyncio.to_thread(path.read_bytes)
            stored = await retrieval.upload_file(name, data, "assistants")
            hosted = expected.get(name)
            await retrieval.add_file(store_id, stored.id, hosted.attributes if hosted else None)
        except (OSError, KithostError) as error:
            progress.note(f"{path}: not added ({error})")
            progress.advance()
            ok = False
            continue
        queued[stored.id] = path
        present.add(name)
    failures = await _wait(retrieval, store_id, queued, progress)
    progress.close()
    for path, message in failures:
        typer.secho(f"failed: {path}: {message}", err=True, fg="red")
    left = await retrieval.expected_files(store_id)
    done = len(queued) - len(failures)
    typer.echo(f"{store_id}: {done} added, {len(failures)} failed")
    if left:
        names = ", ".join(item.filename for item in left[:10])
        more = f" and {len(left) - 10} more" if len(left) > 10 else ""
        typer.echo(f"still to add from OpenAI: {names}{more}")
    return ok and not failures


async def _wait(
    retrieval: Retrieval, store_id: str, queued: dict[str, Path], progress: _Progress
) -> list[tuple[Path, str]]:
    """Follow the queued files until each is ingested or failed; the failures."""
    pending = dict(queued)
    failures: list[tuple[Path, str]] = []
    while pending:
        for file_id, path in list(pending.items()):
            item = await retrieval.get_store_file(store_id, file_id)
            if item.status == "in_progress":
                continue
            del pending[file_id]
            progress.advance()
            if item.status != "completed":
                message = item.last_error.message if item.last_error else item.status
                failures.append((path, message))
        if pending:
            await asyncio.sleep(POLL_SECONDS)
    return failures


class _Progress:
    """A bar on a terminal; otherwise a line every few seconds (on stderr, like import's)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self._last = 0.0
        self._bar: Any = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("adding files"), BarColumn(), MofNCompleteColumn(), transient=True
            )
            self._task = self._bar.add_task("files", total=total)
            self._bar.start()

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif time.monotonic() - self._last > 2 or self.done == self.total:
            self._last = time.monotonic()
            typer.echo(f"{self.done}/{self.total} files", err=True)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            typer.echo(text, err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
