"""The webhook outbox's write side: events become delivery rows in the caller's transaction.

Writing the delivery in the same transaction as what it reports (a run's end, a thread's
creation) means an event is never lost between the two, and never sent for something that was
rolled back. Delivery itself is webhooks/delivery.py's, in the background.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kithost.core.ids import new_id
from kithost.core.webhook_events import DELIVERY_PREFIX, WebhookEvent
from kithost.store.tables import webhook_deliveries, webhook_endpoints


async def enqueue(conn: AsyncConnection, events: Sequence[WebhookEvent]) -> int:
    """One pending delivery per event and enabled endpoint subscribed to its type."""
    if not events:
        return 0
    endpoints = (
        await conn.execute(
            select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
                webhook_endpoints.c.enabled.is_(True)
            )
        )
    ).all()
    rows = [
        {
            "id": new_id(DELIVERY_PREFIX, event.created_at),
            "endpoint_id": endpoint_id,
            "event_type": event.type,
            "payload": event.body(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": event.created_at,
            "created_at": event.created_at,
        }
        for event in events
        for endpoint_id, subscribed in endpoints
        if event.type in (subscribed or [])
    ]
    if rows:
        await conn.execute(insert(webhook_deliveries), rows)
    return len(rows)
