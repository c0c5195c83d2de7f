"""Webhook endpoints and deliveries as records, and their REST forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from kithost.core.webhook_events import EVENT_TYPES

ENDPOINT_PREFIX = "whep_"
ENDPOINT_OBJECT = "chatkit.webhook_endpoint"
DELIVERY_OBJECT = "chatkit.webhook_delivery"

DeliveryStatus = Literal["pending", "delivered", "failed"]
# EVENT_TYPES as a type, for request bodies and the OpenAPI document.
EventType = Literal[
    "thread.created", "run.completed", "run.failed", "run.cancelled", "run.interrupted"
]
assert get_args(EventType) == EVENT_TYPES, "EventType must list core.webhook_events.EVENT_TYPES"


def _seconds(value: float | None) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    description: str | None
    events: tuple[str, ...]
    enabled: bool
    secret_version: int
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": ENDPOINT_OBJECT,
            "url": self.url,
            "description": self.description,
            "events": list(self.events),
            "enabled": self.enabled,
            "created_at": int(self.created_at),
        }


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    endpoint_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float | None
    last_attempt_at: float | None
    last_status_code: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": DELIVERY_OBJECT,
            "endpoint_id": self.endpoint_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _seconds(self.next_attempt_at),
            "last_attempt_at": _seconds(self.last_attempt_at),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "created_at": int(self.created_at),
            "delivered_at": _seconds(self.delivered_at),
        }


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this process holds the lease on: everything one attempt needs."""

    id: str
    endpoint_id: str
    url: str
    secret_version: int
    payload: bytes
    attempts: int  # made before this one


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to, and what happens next (``next_attempt_at`` when pending)."""

    status: DeliveryStatus
    attempted_at: float
    status_code: int | None
    error: str | None
    next_attempt_at: float | None
