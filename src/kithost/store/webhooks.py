"""Webhook endpoints, and the outbox's read and delivery side (the write side is
webhook_outbox.py's).

Several processes deliver from one outbox. Each claims a due delivery with a compare-and-set
UPDATE that names it the owner for a lease, so exactly one process sends each attempt; only the
owner records the attempt's outcome. A process that dies mid-attempt leaves a lease that lapses,
and the delivery is claimed again (receivers de-duplicate on its id, the ``webhook-id``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.core.pagination import ListParams, Page
from kithost.store.pagination import paginate
from kithost.store.tables import webhook_deliveries, webhook_endpoints
from kithost.webhooks.model import (
    AttemptOutcome,
    ClaimedDelivery,
    WebhookDelivery,
    WebhookEndpoint,
)

ENDPOINT_FIELDS = ("url", "description", "events", "enabled")
# Every delivery column but the payload (lists never need the bytes).
_DELIVERY_COLUMNS = [c for c in webhook_deliveries.c if c.name != "payload"]


class WebhookRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    # endpoints

    async def create_endpoint(self, endpoint: WebhookEndpoint) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(webhook_endpoints).values(
                    id=endpoint.id,
                    url=endpoint.url,
                    description=endpoint.description,
                    events=list(endpoint.events),
                    enabled=endpoint.enabled,
                    secret_version=endpoint.secret_version,
                    created_at=endpoint.created_at,
                    updated_at=endpoint.updated_at,
                )
            )

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _endpoint(row) if row else None

    async def list_endpoints(self, params: ListParams) -> Page[WebhookEndpoint]:
        async with self._engine.connect() as conn:
            page = await paginate(conn, webhook_endpoints, select(webhook_endpoints), params)
        return Page(data=[_endpoint(row) for row in page.data], has_more=page.has_more)

    async def update_endpoint(
        self, endpoint_id: str, changes: dict[str, Any], now: float
    ) -> WebhookEndpoint | None:
        """Set any of ``ENDPOINT_FIELDS``; None when there is no such endpoint."""
        values = {key: changes[key] for key in ENDPOINT_FIELDS if key in changes}
        if "events" in values:
            values["events"] = list(values["events"])
        query = (
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(**values, updated_at=now)
            .returning(*webhook_endpoints.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return _endpoint(row) if row else None

    async def bump_secret_version(self, endpoint_id: str, now: float) -> WebhookEndpoint | None:
        """A new signing secret: the next version (the secret is derived from it)."""
        query = (
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(secret_version=webhook_endpoints.c.secret_version + 1, updated_at=now)
            .returning(*webhook_endpoints.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return _endpoint(row) if row else None

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete the endpoint and (by the foreign key's cascade) its deliveries."""
        query = delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    # deliveries, as the app sees them

    async def list_deliveries(self, endpoint_id: str, params: ListParams) -> Page[WebhookDelivery]:
        scope = select(*_DELIVERY_COLUMNS).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        async with self._engine.connect() as conn:
            page = await paginate(conn, webhook_deliveries, scope, params)
        return Page(data=[_delivery(row) for row in page.data], has_more=page.has_more)

    async def get_delivery(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
        query = select(*_DELIVERY_COLUMNS).where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _delivery(row) if row else None

    async def resend(
        self, endpoint_id: str, delivery_id: str, now: float
    ) -> WebhookDelivery | None:
        """Pending again, due now, same id; an attempt in flight keeps its lease."""
        query = (
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.endpoint_id == endpoint_id,
            )
            .values(status="pending", next_attempt_at=now)
            .returning(*_DELIVERY_COLUMNS)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return _delivery(row) if row else None

    # deliveries, as the dispatcher sees them

    async def due(
        self, now: float, limit: int, skip_endpoints: Collection[str] = ()
    ) -> list[tuple[str, str]]:
        """``(delivery id, endpoint id)`` of deliveries that may be claimed now, oldest due
        first: pending, due, of an enabled endpoint, and held by no live lease. Endpoints in
        ``skip_endpoints`` (busy enough already) are left out, so that a backlog of one never
        hides the others' deliveries."""
        query = (
            select(webhook_deliveries.c.id, webhook_deliveries.c.endpoint_id)
            .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
            .where(_claimable(now), webhook_endpoints.c.enabled.is_(True))
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.seq)
            .limit(limit)
        )
        if skip_endpoints:
            query = query.where(webhook_deliveries.c.endpoint_id.not_in(list(skip_endpoints)))
        async with self._engine.connect() as conn:
            return [(row.id, row.endpoint_id) for row in (await conn.execute(query)).all()]

    async def claim(
        self, delivery_id: str, owner: str, now: float, lease_expires_at: float
    ) -> ClaimedDelivery | None:
        """Take the lease on a delivery if it is still claimable (compare-and-set): of several
        processes trying at once, exactly one gets it."""
        take = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id, _claimable(now))
            .values(owner=owner, lease_expires_at=lease_expires_at)
            .returning(
                webhook_deliveries.c.endpoint_id,
                webhook_deliveries.c.payload,
                webhook_deliveries.c.attempts,
            )
        )
        async with self._engine.begin() as conn:
            taken = (await conn.execute(take)).first()
            if taken is None:
                return None
            endpoint = (
                await conn.execute(
                    select(webhook_endpoints.c.url, webhook_endpoints.c.secret_version).where(
                        webhook_endpoints.c.id == taken.endpoint_id
                    )
                )
            ).first()
        if endpoint is None:
            return None  # deleted in between: the cascade took the delivery too
        return ClaimedDelivery(
            id=delivery_id,
            endpoint_id=taken.endpoint_id,
            url=endpoint.url,
            secret_version=int(endpoint.secret_version),
            payload=bytes(taken.payload),
            attempts=int(taken.attempts),
        )

    async def record(self, claimed: ClaimedDelivery, owner: str, outcome: AttemptOutcome) -> bool:
        """Record an attempt and release the lease, only while ``owner`` still holds it."""
        query = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == claimed.id, webhook_deliveries.c.owner == owner)
            .values(
                status=outcome.status,
                attempts=claimed.attempts + 1,
                next_attempt_at=outcome.next_attempt_at,
                last_attempt_at=outcome.attempted_at,
                last_status_code=outcome.status_code,
                last_error=outcome.error,
                delivered_at=outcome.attempted_at if outcome.status == "delivered" else None,
                owner=None,
                lease_expires_at=None,
            )
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def release(self, owner: str) -> None:
        """Give up this owner's leases (a process shutting down): others may claim at once."""
        query = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.owner == owner)
            .values(owner=None, lease_expires_at=None)
        )
        async with self._engine.begin() as conn:
            await conn.execute(query)


def _claimable(now: float) -> Any:
    deliveries = webhook_deliveries.c
    return and_(
        deliveries.status == "pending",
        deliveries.next_attempt_at <= now,
        or_(deliveries.owner.is_(None), deliveries.lease_expires_at < now),
    )


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        events=tuple(row.events or ()),
        enabled=bool(row.enabled),
        secret_version=int(row.secret_version),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
    )


def _delivery(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        status=row.status,
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=float(row.created_at),
        delivered_at=row.delivered_at,
    )
