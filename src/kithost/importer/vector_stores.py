"""``kithost import --vector-stores``: OpenAI's vector stores, recreated here under their ids.

OpenAI keeps the files of a vector store (``purpose: assistants``) and never gives their bytes
back, so what comes across is each store's id, name, metadata and expiry, and, per file, its
name and attributes. The files themselves are added from the team's own copies with
``kithost vector-stores add vs_… PATH…``, which matches them by name so that the hosted
attributes carry over. Running the import again adds what is new and changes nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from kithost.core.errors import NotFound
from kithost.core.pagination import ListParams
from kithost.importer.source import SourceError
from kithost.retrieval.models import ExpectedFile, ExpiresAfter, VectorStoreFile
from kithost.retrieval.service import Retrieval

PAGE_SIZE = 100
# Requests for file names at once (one per file: a store's file list has no names).
NAME_LOOKUPS = 8


@dataclass
class HostedFile:
    file_id: str
    filename: str
    attributes: dict[str, Any]


@dataclass
class HostedStore:
    id: str
    name: str
    metadata: dict[str, str]
    expires_after_days: int | None
    files: list[HostedFile] = field(default_factory=list)


@dataclass
class StoreOutcome:
    store: HostedStore
    created: bool
    to_add: list[HostedFile]
    already_here: int


class HostedVectorStores:
    """Reads vector stores and their files' names and attributes through the openai SDK."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client
        self.base_url = str(client.base_url).rstrip("/")

    async def stores(self) -> list[HostedStore]:
        found: list[HostedStore] = []
        try:
            async for store in self.client.vector_stores.list(limit=PAGE_SIZE, order="asc"):
                expires = store.expires_after.days if store.expires_after else None
                found.append(
                    HostedStore(store.id, store.name or "", dict(store.metadata or {}), expires)
                )
            for hosted in found:
                hosted.files = await self._files(hosted.id)
        except openai.APIError as error:
            raise self._explain(error) from None
        return found

    async def _files(self, store_id: str) -> list[HostedFile]:
        entries = [
            entry
            async for entry in self.client.vector_stores.files.list(
                vector_store_id=store_id, limit=PAGE_SIZE, order="asc"
            )
        ]
        limit = asyncio.Semaphore(NAME_LOOKUPS)

        async def named(entry: Any) -> HostedFile:
            async with limit:
                try:
                    filename = (await self.client.files.retrieve(entry.id)).filename
                except openai.NotFoundError:
                    filename = entry.id  # deleted from /v1/files, still listed in the store
            return HostedFile(entry.id, filename, _json_numbers(entry.attributes or {}))

        return list(await asyncio.gather(*(named(entry) for entry in entries)))

    def _explain(self, error: openai.APIError) -> SourceError:
        where = self.base_url
        if isinstance(error, openai.AuthenticationError):
            return SourceError(
                f"{where} refused the API key (401). Pass the key of the OpenAI project that "
                "owns the vector stores with --api-key or KITHOST_IMPORT_API_KEY."
            )
        if isinstance(error, openai.PermissionDeniedError):
            return SourceError(f"{where} does not let this API key read vector stores (403).")
        if isinstance(error, openai.NotFoundError):
            return SourceError(
                f"{where} has no vector stores API (404). The base URL should end in /v1, "
                "like https://api.openai.com/v1."
            )
        if isinstance(error, openai.APIConnectionError):
            return SourceError(f"Could not connect to {where}.")
        status = getattr(error, "status_code", None)
        return SourceError(f"{where} answered {status or 'an error'} while listing vector stores.")


def _json_numbers(attributes: dict[str, Any]) -> dict[str, Any]:
    """The SDK reads every attribute number as a float (2025 → 2025.0); JSON has one kind of
    number, and a whole one reads back as the integer it was written as."""
    return {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in attributes.items()
    }


async def copy_stores(hosted: list[HostedStore], retrieval: Retrieval | None) -> list[StoreOutcome]:
    """Create each store here (unless it is), and record the files still to add.

    ``retrieval`` None: a dry run, which only says what would happen.
    """
    outcomes: list[StoreOutcome] = []
    for store in hosted:
        if retrieval is None:
            outcomes.append(StoreOutcome(store, True, list(store.files), 0))
            continue
        created = False
        try:
            await retrieval.get_store(store.id)
        except NotFound:
            expires = ExpiresAfter(store.expires_after_days) if store.expires_after_days else None
            await retrieval.create_store(store.name, store.metadata, expires, store_id=store.id)
            created = True
        here = {item.filename for item in await _store_files(retrieval, store.id)}
        expected = {item.filename for item in await retrieval.expected_files(store.id)}
        to_add = [item for item in store.files if item.filename not in here]
        new = [item for item in to_add if item.filename not in expected]
        await retrieval.expect_files(
            store.id,
            [ExpectedFile(store.id, item.filename, item.attributes, item.file_id) for item in new],
        )
        outcomes.append(StoreOutcome(store, created, to_add, len(store.files) - len(to_add)))
    return outcomes


async def _store_files(retrieval: Retrieval, store_id: str) -> list[VectorStoreFile]:
    found: list[VectorStoreFile] = []
    after: str | None = None
    while True:
        page = await retrieval.list_store_files(
            store_id, ListParams(limit=100, order="asc", after=after)
        )
        found.extend(page.data)
        if not page.has_more or not page.data:
            return found
        after = page.data[-1].id


def report(outcomes: list[StoreOutcome], dry_run: bool, say: Callable[[str], None]) -> None:
    """What came across, and for each store the files to add and the command that adds them."""
    if not outcomes:
        say("No vector stores at the source.")
        return
    verb = "would create" if dry_run else "created"
    for outcome in outcomes:
        store = outcome.store
        state = verb if outcome.created else "already here"
        name = f' "{store.name}"' if store.name else ""
        say(f"{store.id}{name}: {state}; {len(store.files)} files on OpenAI")
        if outcome.already_here:
            say(f"    {outcome.already_here} already added here")
        if outcome.to_add:
            say(f"    to add ({len(outcome.to_add)}), from your own copies:")
            for item in outcome.to_add:
                attributes = f"  {json.dumps(item.attributes)}" if item.attributes else ""
                say(f"      {item.filename}{attributes}")
            say(f"    then: kithost vector-stores add {store.id} PATH…  (files or folders)")


async def run_vector_store_import(
    base_url: str,
    api_key: str | None,
    max_retries: int,
    dry_run: bool,
    say: Callable[[str], None],
) -> None:
    """The whole command: read the source, then create the stores here (or say what would be).

    Raises ``SourceError`` when the source cannot be read.
    """
    from kithost.services import open_services
    from kithost.settings import Settings

    if not api_key:
        raise SourceError(
            "No API key for the source: pass --api-key, or set KITHOST_IMPORT_API_KEY to the "
            "key of the OpenAI project whose vector stores you are importing."
        )
    async with openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, max_retries=max_retries
    ) as client:
        hosted = await HostedVectorStores(client).stores()
    if dry_run:
        report(await copy_stores(hosted, None), True, say)
        return
    services = await open_services(Settings())
    try:
        report(await copy_stores(hosted, services.retrieval), False, say)
    finally:
        await services.close()
