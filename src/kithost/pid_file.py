"""The pid file under ``KITHOST_DATA_DIR`` that ``kithost workflows reload`` signals.

A pid file left behind after the server stopped would point ``reload`` at whatever process
gets that pid next, so it goes when ``serve`` ends: on a normal return, on Ctrl-C, and on
SIGTERM, which uvicorn re-raises after its graceful shutdown (with the default handler the
process would die there, before any clean-up).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

PID_FILE = "kithost.pid"
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(SIGTERM_EXIT_CODE)


@contextlib.contextmanager
def pid_file(data_dir: Path) -> Iterator[Path]:
    """Record this process in ``data_dir`` while the block runs; remove the file after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / PID_FILE
    mine = str(os.getpid())
    path.write_text(mine)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield path
    finally:
        signal.signal(signal.SIGTERM, previous)
        # Another server may have started on the same folder since: leave its file alone.
        with contextlib.suppress(OSError):
            if path.read_text().strip() == mine:
                path.unlink()
