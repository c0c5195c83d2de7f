"""What a run is: its row, its statuses, and how the REST view shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kithost.core.ids import new_id

RUN_PREFIX = "run_"

RunStatus = Literal["in_progress", "completed", "cancelled", "failed", "interrupted"]
FINISHED: frozenset[str] = frozenset({"completed", "cancelled", "failed", "interrupted"})


def new_run_id() -> str:
    return new_id(RUN_PREFIX)


@dataclass(frozen=True)
class RunRecord:
    id: str
    thread_id: str | None
    session_id: str
    user: str
    workflow_id: str
    workflow_version: str | None
    request_type: str
    status: RunStatus
    created_at: float
    ended_at: float | None
    last_event_id: int
    owner: str | None
    lease_expires_at: float | None
    cancel_requested_at: float | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def lease_lapsed(self, now: float) -> bool:
        return (
            self.status == "in_progress"
            and self.lease_expires_at is not None
            and self.lease_expires_at < now
        )

    def to_wire(self) -> dict[str, Any]:
        """The ``chatkit.run`` object (an extension: docs/api.md)."""
        return {
            "id": self.id,
            "object": "chatkit.run",
            "thread_id": self.thread_id,
            "session_id": self.session_id,
            "user": self.user,
            "workflow": {"id": self.workflow_id, "version": self.workflow_version},
            "request_type": self.request_type,
            "status": self.status,
            "created_at": int(self.created_at),
            "ended_at": int(self.ended_at) if self.ended_at is not None else None,
            "last_event_id": self.last_event_id,
        }
