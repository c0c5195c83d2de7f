"""Why a turn's stream is being cancelled: the user's Stop, or the server interrupting it.

The run that executes a turn sets this for its own task; the ChatKit server reads it while it
saves the partial answer, to add a visible notice when the server (not the user) stopped it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

StopKind = Literal["stop", "interrupt"]


@dataclass
class StopReason:
    kind: StopKind = "stop"


current_stop_reason: ContextVar[StopReason | None] = ContextVar("stop_reason", default=None)

INTERRUPTED_NOTICE = "(Interrupted: the server stopped before this answer was finished.)"


def interrupted() -> bool:
    reason = current_stop_reason.get()
    return reason is not None and reason.kind == "interrupt"
