"""The live display on stderr: a bar on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from kithost.importer.report import Summary

PLAIN_EVERY_SECONDS = 2.0


class Display(Protocol):
    def listing(self, found: int) -> None:
        """Threads found so far while listing the source."""

    def start(self, total: int) -> None:
        """Listing is done: ``total`` threads to go through."""

    def update(self, done: int, summary: Summary) -> None: ...
    def close(self) -> None: ...


def display_for(stream: TextIO = sys.stderr) -> Display:
    return RichDisplay(stream) if stream.isatty() else PlainDisplay(stream)


def _counts(summary: Summary, elapsed: float) -> str:
    rate = summary.items_imported / elapsed if elapsed > 0 else 0.0
    parts = [f"{summary.items_imported} items", f"{rate:.0f}/s"]
    if summary.items_skipped:
        parts.append(f"{summary.items_skipped} skipped")
    if summary.attachments_copied:
        parts.append(f"{summary.attachments_copied} files")
    failed = summary.threads_failed + summary.items_failed
    if failed:
        parts.append(f"{failed} failed")
    return ", ".join(parts)


class PlainDisplay:
    def __init__(self, stream: TextIO):
        self._stream = stream
        self._started = time.monotonic()
        self._last = 0.0
        self._total = 0

    def _say(self, text: str) -> None:
        print(f"kithost import: {text}", file=self._stream, flush=True)

    def listing(self, found: int) -> None:
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY_SECONDS:
            self._last = now
            self._say(f"listing threads… {found} found")

    def start(self, total: int) -> None:
        self._total = total
        self._last = 0.0
        self._say(f"{total} threads to go through")

    def update(self, done: int, summary: Summary) -> None:
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY_SECONDS or done == self._total:
            self._last = now
            elapsed = now - self._started
            self._say(f"{done}/{self._total} threads, {_counts(summary, elapsed)}")

    def close(self) -> None:
        return None


class RichDisplay:
    def __init__(self, stream: TextIO):
        self._started = time.monotonic()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._progress.start()
        self._task: TaskID = self._progress.add_task("listing", total=None, counts="")

    def listing(self, found: int) -> None:
        self._progress.update(self._task, completed=found, counts=f"{found} found")

    def start(self, total: int) -> None:
        self._progress.update(
            self._task, description="threads", total=total, completed=0, counts=""
        )

    def update(self, done: int, summary: Summary) -> None:
        elapsed = time.monotonic() - self._started
        self._progress.update(self._task, completed=done, counts=_counts(summary, elapsed))

    def close(self) -> None:
        self._progress.stop()
