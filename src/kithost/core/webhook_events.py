"""What kithost tells webhook endpoints: the event types and the body of each event.

Bodies follow the Standard Webhooks payload shape: ``{"type", "timestamp", "data"}``, where
``data`` is the object the event is about in its REST form (a ``chatkit.run``, a
``chatkit.thread``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

THREAD_CREATED = "thread.created"
RUN_ENDED_PREFIX = "run."

# Every event an endpoint can subscribe to, in the order the docs list them.
EVENT_TYPES: tuple[str, ...] = (
    THREAD_CREATED,
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.interrupted",
)

DELIVERY_PREFIX = "msg_"


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    data: dict[str, Any]
    created_at: float

    def body(self) -> bytes:
        """The exact bytes that are signed and sent."""
        stamp = datetime.fromtimestamp(self.created_at, UTC).isoformat().replace("+00:00", "Z")
        document = {"type": self.type, "timestamp": stamp, "data": self.data}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def run_ended(run: dict[str, Any], now: float) -> WebhookEvent:
    """``run.<status>`` for a run that has just ended; ``run`` is its ``chatkit.run`` form."""
    return WebhookEvent(type=RUN_ENDED_PREFIX + str(run["status"]), data=run, created_at=now)


def thread_created(thread: dict[str, Any], now: float) -> WebhookEvent:
    return WebhookEvent(type=THREAD_CREATED, data=thread, created_at=now)
