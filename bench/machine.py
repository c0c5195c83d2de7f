"""What the figures were measured on: printed above the table and kept in the JSON file."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _postgres_version() -> str:
    try:
        out = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def describe() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "postgres": _postgres_version(),
        "load_average": os.getloadavg(),
    }


def summary_line(info: dict[str, Any], load_after: tuple[float, float, float]) -> str:
    before = info["load_average"][0]
    return (
        f"{info['date']} · {info['cpus']} CPUs ({info['cpu']}) · {info['memory_gib']} GiB · "
        f"Python {info['python']} · {info['postgres']} · "
        f"load average {before:.1f} before, {load_after[0]:.1f} after"
    )
