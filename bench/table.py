"""The one table ``make bench`` prints: a Markdown table, pasteable into BENCHMARKS.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MET = "met"
NOT_MET = "NOT met"
INFO = ""
COLUMNS = ("", "measurement", "kithost", "anchor", "ratio", "target", "")


@dataclass
class Row:
    scenario: str
    what: str
    kithost: str
    anchor: str = "—"
    ratio: str = "—"
    target: str = "—"
    verdict: str = INFO

    def cells(self) -> tuple[str, ...]:
        return (
            self.scenario,
            self.what,
            self.kithost,
            self.anchor,
            self.ratio,
            self.target,
            self.verdict,
        )


def verdict(ok: bool) -> str:
    return MET if ok else NOT_MET


def num(value: float, digits: int = 0, unit: str = "") -> str:
    """A number for the table: ``n/a`` when missing."""
    if value is None or math.isnan(value):
        return "n/a"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def ms(value: float) -> str:
    return num(value, 2 if value < 10 else 1, "ms")


def times(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}×"


def percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:.0f} %"


def render(rows: Sequence[Row]) -> str:
    table = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(COLUMNS), rule, *(line(row.cells()) for row in rows)])
