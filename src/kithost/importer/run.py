"""The import: list the source's threads, write the missing ones, then bring their items across.

Resuming needs no bookkeeping of its own; it follows from what kithost already stores:

1. thread rows are written first, all of them, oldest first (threads created in the same second
   keep the source's order), and never changed once there;
2. a thread's items are then added oldest first, a page per transaction, ids kept;
3. so a thread kithost already has is complete exactly when it holds the source's *newest*
   item: one request (``list_items(order=desc, limit=1)``) settles it, and an incomplete one
   is walked again, adding only the items kithost lacks.

A killed run therefore resumes where it stopped, and a later run also picks up items added at
the source in the meantime (the app keeps running on hosted ChatKit until the switch), which a
"thread done" table would miss.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import openai
from sqlalchemy.exc import DataError, IntegrityError

from kithost.core.threads import ItemRecord, ThreadRecord
from kithost.importer import fidelity, mapping
from kithost.importer.mapping import SourceAttachment, Unmappable
from kithost.importer.options import ImportOptions
from kithost.importer.previews import PreviewCopier
from kithost.importer.progress import Display
from kithost.importer.report import Note, Summary
from kithost.importer.source import Json, Source, SourceError
from kithost.importer.target import Target

THREADS_PER_BATCH = 200
ITEMS_PER_BATCH = 100


@dataclass(frozen=True)
class Planned:
    """A source thread that kithost has (or, in a dry run, would have) a row for."""

    rest: Json
    record: ThreadRecord
    new: bool


@dataclass(frozen=True)
class Prepared:
    """An item ready to be stored."""

    rest: Json
    record: ItemRecord
    copied: set[str]
    attachments: int


@dataclass
class ThreadResult:
    added: int = 0
    attachments: int = 0
    skipped: bool = False


class Importer:
    def __init__(
        self,
        options: ImportOptions,
        source: Source,
        target: Target,
        copier: PreviewCopier | None,
        display: Display,
        plan: TextIO | None = None,
    ):
        """``copier`` is None in a dry run; ``plan`` receives a dry run's line per thread."""
        self._options = options
        self._source = source
        self._target = target
        self._copier = copier
        self._display = display
        self._plan = plan
        self.summary = Summary(source=source.base_url, dry_run=options.dry_run)
        self._done = 0

    async def run(self) -> Summary:
        started = time.monotonic()
        try:
            threads = await self._list()
            self._display.start(len(threads))
            planned = await self._write_threads(threads)
            await self._import_all(planned)
        except SourceError as error:
            self.summary.interrupted = str(error)
        finally:
            self.summary.seconds = time.monotonic() - started
            self.summary.rate_limited = self._source.rate_limited
            self._display.close()
        return self.summary

    # 1. which threads

    async def _list(self) -> list[Json]:
        options = self._options
        found: dict[str, Json] = {}
        try:
            if options.thread_ids:
                for thread_id in dict.fromkeys(options.thread_ids):
                    rest = await self._source.thread(thread_id)
                    if rest is None:
                        self._thread_failed(thread_id, "the source has no thread with this id")
                    elif self._wanted(rest):
                        found[thread_id] = rest
            else:
                async for rest in self._source.threads(options.users, options.since):
                    if self._wanted(rest):
                        found[str(rest.get("id"))] = rest
                        self._display.listing(len(found))
        except openai.APIError as error:
            raise self._source.explain(error) from None
        # Listed newest first: reversed, then sorted stably, ties keep the source's order.
        oldest_first = sorted(reversed(found.values()), key=_created_at)
        self.summary.threads_found = len(oldest_first)
        return oldest_first

    def _wanted(self, rest: Json) -> bool:
        return self._options.wants(str(rest.get("user")), _created_at(rest))

    # 2. thread rows, oldest first

    async def _write_threads(self, threads: list[Json]) -> list[Planned]:
        mapped: list[tuple[Json, ThreadRecord]] = []
        for rest in threads:
            try:
                mapped.append((rest, mapping.thread_record(rest)))
            except Unmappable as error:
                self._thread_failed(str(rest.get("id")), str(error))
        planned: list[Planned] = []
        for start in range(0, len(mapped), THREADS_PER_BATCH):
            chunk = mapped[start : start + THREADS_PER_BATCH]
            owners = await self._target.thread_owners([record.id for _, record in chunk])
            new: list[ThreadRecord] = []
            for rest, record in chunk:
                owner = owners.get(record.id)
                if owner is not None and owner != record.user:
                    self._thread_failed(
                        record.id, f"kithost already has a thread with this id, of user {owner!r}"
                    )
                    continue
                if owner is None:
                    new.append(record)
                    for difference in fidelity.thread_differences(record, rest):
                        self.summary.differences.append(Note(record.id, difference))
                planned.append(Planned(rest, record, new=owner is None))
            await self._target.add_threads(new)
        return planned

    # 3. items, several threads at a time

    async def _import_all(self, planned: list[Planned]) -> None:
        queue: Iterator[Planned] = iter(planned)

        async def worker() -> None:
            for thread in queue:  # one shared iterator: each thread goes to one worker
                await self._import_thread(thread)
                self._done += 1
                self._display.update(self._done, self.summary)

        workers = max(1, min(self._options.concurrency, len(planned)))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except ExceptionGroup as failed:
            # One worker's fatal error stopped them all: report it as if alone.
            raise failed.exceptions[0] from None

    async def _import_thread(self, thread: Planned) -> None:
        try:
            result = await self._items(thread)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise self._source.explain(error) from None
        except openai.APIStatusError as error:
            self._thread_failed(
                thread.record.id, f"the source answered {error.status_code} while listing items"
            )
            return
        except openai.APIError as error:  # unreachable, or answers that are not ChatKit's
            raise self._source.explain(error) from None
        if result.skipped:
            self.summary.threads_skipped += 1
            return
        if thread.new:
            self.summary.threads_new += 1
        elif result.added:
            self.summary.threads_updated += 1
        else:
            self.summary.threads_skipped += 1
        if self._plan is not None and (thread.new or result.added):
            self._plan_line(thread, result)

    async def _items(self, thread: Planned) -> ThreadResult:
        thread_id = thread.record.id
        if not thread.new:
            newest = await self._source.newest_item_id(thread_id)
            if newest is None or await self._target.existing_items(thread_id, [newest]):
                return ThreadResult(skipped=True)
        result = ThreadResult()
        batch: list[Json] = []
        async for rest in self._source.items(thread_id):
            batch.append(rest)
            if len(batch) == ITEMS_PER_BATCH:
                await self._batch(thread, batch, result)
                batch = []
        if batch:
            await self._batch(thread, batch, result)
        return result

    async def _batch(self, thread: Planned, batch: list[Json], result: ThreadResult) -> None:
        """Add the items of ``batch`` that kithost lacks, in one transaction."""
        fresh = batch
        if not thread.new:
            ids = [str(rest.get("id")) for rest in batch]
            known = await self._target.existing_items(thread.record.id, ids)
            fresh = [rest for rest in batch if str(rest.get("id")) not in known]
            self.summary.items_skipped += len(batch) - len(fresh)
        prepared = [p for rest in fresh if (p := await self._prepare(thread, rest)) is not None]
        await self._store(thread, prepared, result)

    async def _prepare(self, thread: Planned, rest: Json) -> Prepared | None:
        """The item's stored form, its attachments copied first; None if it cannot be."""
        thread_id = thread.record.id
        item_id = str(rest.get("id"))
        try:
            attachments = mapping.attachments_of(rest)
            # Checked before any bytes are copied, with the links the item would get.
            mapping.item_record(rest, thread_id, self._planned_previews(attachments))
            previews, copied = await self._copy(thread, item_id, attachments)
            record = mapping.item_record(rest, thread_id, previews)
        except Unmappable as error:
            self._item_failed(thread_id, item_id, str(error))
            return None
        except (IntegrityError, DataError) as error:
            self._item_failed(thread_id, item_id, f"kithost's database refused it: {error.orig}")
            return None
        return Prepared(rest, record, copied, len(attachments))

    async def _store(self, thread: Planned, prepared: list[Prepared], result: ThreadResult) -> None:
        if not prepared:
            return
        try:
            inserted = await self._target.add_items([p.record for p in prepared])
        except (IntegrityError, DataError) as error:
            if len(prepared) == 1:
                reason = f"kithost's database refused it: {error.orig}"
                self._item_failed(thread.record.id, prepared[0].record.id, reason)
                return
            for one in prepared:  # the batch was rolled back: find the culprit, keep the rest
                await self._store(thread, [one], result)
            return
        for item, new in zip(prepared, inserted, strict=True):
            if not new:
                reason = "kithost already has an item with this id"
                self._item_failed(thread.record.id, item.record.id, reason)
                continue
            self.summary.items_imported += 1
            result.added += 1
            result.attachments += item.attachments
            differences = fidelity.item_differences(item.record, item.rest, item.copied)
            for difference in differences:
                self.summary.differences.append(
                    Note(thread.record.id, difference, item_id=item.record.id)
                )

    def _planned_previews(self, attachments: list[SourceAttachment]) -> dict[str, str | None]:
        return {
            a.id: a.preview_url or (self._target.preview_link(a.id) if a.type == "image" else None)
            for a in attachments
        }

    async def _copy(
        self, thread: Planned, item_id: str, attachments: list[SourceAttachment]
    ) -> tuple[dict[str, str | None], set[str]]:
        """Each attachment's preview link for the item, and the ids whose bytes were copied."""
        previews: dict[str, str | None] = {}
        copied: set[str] = set()
        for attachment in attachments:
            if self._copier is None:  # a dry run counts what has a link to copy from
                ok = attachment.preview_url is not None
                link = self._target.preview_link(attachment.id)
                previews[attachment.id] = link if ok or attachment.type == "image" else None
                reason = None if ok else "the source gives no preview_url"
            else:
                outcome = await self._copier.copy(attachment, thread.record)
                ok, previews[attachment.id], reason = (
                    outcome.copied,
                    outcome.preview_url,
                    outcome.reason,
                )
            if ok:
                copied.add(attachment.id)
                self.summary.attachments_copied += 1
            else:
                self.summary.attachments_not_copied += 1
                self.summary.not_copied.append(
                    Note(thread.record.id, reason or "", item_id, attachment.id)
                )
        return previews, copied

    # bookkeeping

    def _thread_failed(self, thread_id: str, reason: str) -> None:
        self.summary.threads_failed += 1
        self.summary.failures.append(Note(thread_id, reason))

    def _item_failed(self, thread_id: str, item_id: str, reason: str) -> None:
        self.summary.items_failed += 1
        self.summary.failures.append(Note(thread_id, reason, item_id=item_id))

    def _plan_line(self, thread: Planned, result: ThreadResult) -> None:
        record = thread.record
        created = datetime.fromtimestamp(record.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        if thread.new:
            line = (
                f"new     {record.id}  user={record.user}  created={created}Z  "
                f"items={result.added}  attachments={result.attachments}"
            )
        else:
            line = f"update  {record.id}  +{result.added} items"
        print(line, file=self._plan, flush=True)


def _created_at(rest: Json) -> float:
    value: Any = rest.get("created_at")
    return float(value) if isinstance(value, int | float) else 0.0
