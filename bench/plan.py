"""How much each benchmark does: the full plan (``make bench``) or a quick one for trying."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.builds import Build, current
from bench.table import Row


@dataclass(frozen=True)
class Plan:
    reps: int = 5  # runs per measurement; the table shows their medians
    run_seconds: float = 2.0  # B1: one throughput run
    max_requests: int = 20_000  # per run, whatever the time
    sequential_requests: int = 150  # B2, B4: requests per latency run (one at a time)
    turns: int = 20  # B2: threads.create turns per run
    stream_window: float = 5.0  # B3: seconds of steady state measured per N
    stream_steps: tuple[int, ...] = (50, 100, 150, 200, 300, 400, 500, 650, 800)
    big_items: int = 1_000_000  # B4
    b5_chunks: int = 10_000  # B5: chunks in the searched store
    b5_queries: int = 200  # B5: distinct queries per mode
    b5_folder_mb: int = 100  # B5: the folder whose ingestion memory is measured

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            reps=2,
            run_seconds=1.0,
            sequential_requests=40,
            turns=5,
            stream_window=2.0,
            stream_steps=(50, 100, 200),
            big_items=100_000,
            b5_chunks=2_000,
            b5_queries=50,
            b5_folder_mb=10,
        )


@dataclass
class Outcome:
    """What one scenario hands back: its table rows and its raw figures (for the JSON file)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Context:
    plan: Plan
    workdir: Path
    current: Build = field(default_factory=current)  # the code under test
    baseline: Build | None = None  # B2, B3: the same measurements on older code, side by side
