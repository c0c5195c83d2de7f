"""What an import did: counts, and the reason for everything that did not go across as is."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SHOWN_PER_LIST = 20  # the text summary lists this many reasons per kind; JSON lists them all


@dataclass(frozen=True)
class Note:
    """One thread, item or attachment, and what happened to it."""

    thread_id: str
    reason: str
    item_id: str | None = None
    attachment_id: str | None = None

    def where(self) -> str:
        parts = [self.thread_id]
        if self.item_id:
            parts.append(f"item {self.item_id}")
        if self.attachment_id:
            parts.append(f"attachment {self.attachment_id}")
        return " ".join(parts)


@dataclass
class Summary:
    source: str
    dry_run: bool = False
    threads_found: int = 0
    """Threads that passed the filters."""
    threads_new: int = 0
    threads_updated: int = 0
    """Threads imported before that had new items."""
    threads_skipped: int = 0
    """Threads imported before, with nothing new."""
    threads_failed: int = 0
    items_imported: int = 0
    items_skipped: int = 0
    items_failed: int = 0
    attachments_copied: int = 0
    attachments_not_copied: int = 0
    rate_limited: int = 0
    """429 answers from the source (each retried by the SDK after its Retry-After)."""
    seconds: float = 0.0
    interrupted: str | None = None
    """Why the run stopped early (the error), if it did."""
    failures: list[Note] = field(default_factory=list)
    not_copied: list[Note] = field(default_factory=list)
    differences: list[Note] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.interrupted is None and not self.failures

    def items_per_second(self) -> float:
        return self.items_imported / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["items_per_second"] = round(self.items_per_second(), 1)
        return json.dumps(data, indent=2)

    def to_text(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        rate = "" if self.dry_run else f" ({self.items_per_second():.0f}/s)"
        lines = [
            f"{'Dry run: nothing was written. ' if self.dry_run else ''}"
            f"Source: {self.source} ({self.seconds:.1f} s)",
            f"  threads      {self.threads_found} found: {self.threads_new} new, "
            f"{self.threads_updated} with new items, {self.threads_skipped} already imported "
            f"(skipped), {self.threads_failed} failed",
            f"  items        {self.items_imported} {verb}{rate}, {self.items_skipped} already "
            f"imported (skipped), {self.items_failed} failed",
            f"  attachments  {self.attachments_copied} "
            f"{'to copy' if self.dry_run else 'copied'} into kithost's storage, "
            f"{self.attachments_not_copied} kept as metadata only",
        ]
        if self.rate_limited:
            lines.append(
                f"  rate limits  the source answered 429 {self.rate_limited} times; each request "
                "was retried after its Retry-After"
            )
        lines += _section("Failed", self.failures)
        lines += _section("Attachments not copied (metadata kept)", self.not_copied)
        lines += _section("Imported, but kithost shows them differently", self.differences)
        if self.interrupted:
            lines += ["", f"Stopped: {self.interrupted}", "Run the same command again to resume."]
        return "\n".join(lines)


def _section(title: str, notes: list[Note]) -> list[str]:
    if not notes:
        return []
    lines = ["", f"{title}:"]
    lines += [f"  {note.where()}: {note.reason}" for note in notes[:SHOWN_PER_LIST]]
    if len(notes) > SHOWN_PER_LIST:
        lines.append(f"  … and {len(notes) - SHOWN_PER_LIST} more (--json lists them all)")
    return lines
