"""Where a run's events are kept so that any process can replay them (DESIGN.md, *Runs*)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Journal(Protocol):
    """A run's SSE events in order, numbered from 1; written in batches by the owning process."""

    async def append(self, events: Sequence[tuple[str, int, bytes]]) -> None:
        """Store ``(run_id, seq, event)`` triples; each run's seqs arrive in increasing order."""
        ...

    async def read(self, run_id: str, after: int, limit: int = 1000) -> list[tuple[int, bytes]]:
        """Up to ``limit`` events of the run with ``seq > after``, in order."""
        ...

    async def forget(self, run_ids: Sequence[str]) -> None:
        """Delete the events of finished runs past their retention."""
        ...

    async def close(self) -> None: ...
