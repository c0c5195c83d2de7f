"""What the REST routes and the CLI do with webhook endpoints: the rules, then the store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kithost.core.errors import InvalidRequest, NotFound
from kithost.core.ids import new_id
from kithost.core.pagination import ListParams, Page
from kithost.core.validation import check_text
from kithost.core.webhook_events import DELIVERY_PREFIX, EVENT_TYPES
from kithost.store.webhooks import WebhookRepository
from kithost.webhooks.model import ENDPOINT_PREFIX, WebhookDelivery, WebhookEndpoint
from kithost.webhooks.signing import WebhookSigner

MAX_URL_LENGTH = 2048
# An absolute http(s) URL: a host name or address (IPv6 in brackets), a port, then any path,
# query and fragment without spaces or control characters. The OpenAPI document says the same;
# it ends in "nothing follows" rather than "$", which lets a final newline through.
URL_PATTERN = (
    r"^https?://(?:[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s\x00-\x1f\x7f]*)?(?![\s\S])"
)
MAX_DESCRIPTION_LENGTH = 512


class WebhookService:
    def __init__(self, repo: WebhookRepository, signer: WebhookSigner):
        self.repo = repo
        self.signer = signer

    async def create(
        self,
        url: str,
        events: Iterable[str],
        description: str | None = None,
        enabled: bool = True,
    ) -> tuple[WebhookEndpoint, str]:
        """The new endpoint and its signing secret."""
        now = time.time()
        endpoint = WebhookEndpoint(
            id=new_id(ENDPOINT_PREFIX, now),
            url=check_url(url),
            description=check_description(description),
            events=check_events(events),
            enabled=enabled,
            secret_version=1,
            created_at=now,
            updated_at=now,
        )
        await self.repo.create_endpoint(endpoint)
        return endpoint, self.signer.secret(endpoint.id, endpoint.secret_version)

    async def list(self, params: ListParams) -> Page[WebhookEndpoint]:
        return await self.repo.list_endpoints(params)

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = (
            await self.repo.get_endpoint(endpoint_id)
            if endpoint_id.startswith(ENDPOINT_PREFIX)
            else None
        )
        if endpoint is None:
            raise NotFound(f"No webhook endpoint found with id '{endpoint_id}'.")
        return endpoint

    async def update(self, endpoint_id: str, changes: Mapping[str, Any]) -> WebhookEndpoint:
        """Change any of ``url``, ``events``, ``description`` (None clears it), ``enabled``."""
        checked: dict[str, Any] = {}
        if "url" in changes:
            checked["url"] = check_url(changes["url"])
        if "events" in changes:
            checked["events"] = check_events(changes["events"])
        if "description" in changes:
            checked["description"] = check_description(changes["description"])
        if "enabled" in changes:
            checked["enabled"] = bool(changes["enabled"])
        await self.get(endpoint_id)
        updated = await self.repo.update_endpoint(endpoint_id, checked, time.time())
        if updated is None:
            raise NotFound(f"No webhook endpoint found with id '{endpoint_id}'.")
        return updated

    async def delete(self, endpoint_id: str) -> None:
        await self.get(endpoint_id)
        await self.repo.delete_endpoint(endpoint_id)

    async def secret(self, endpoint_id: str) -> str:
        endpoint = await self.get(endpoint_id)
        return self.signer.secret(endpoint.id, endpoint.secret_version)

    async def rotate_secret(self, endpoint_id: str) -> str:
        """A new secret at once: the next attempts (retries included) are signed with it."""
        await self.get(endpoint_id)
        endpoint = await self.repo.bump_secret_version(endpoint_id, time.time())
        if endpoint is None:
            raise NotFound(f"No webhook endpoint found with id '{endpoint_id}'.")
        return self.signer.secret(endpoint.id, endpoint.secret_version)

    async def deliveries(self, endpoint_id: str, params: ListParams) -> Page[WebhookDelivery]:
        """The endpoint's deliveries, newest first by default."""
        await self.get(endpoint_id)
        return await self.repo.list_deliveries(endpoint_id, params)

    async def resend(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again now, with the same ``webhook-id`` (one more attempt)."""
        await self.get(endpoint_id)
        delivery = (
            await self.repo.resend(endpoint_id, delivery_id, time.time())
            if delivery_id.startswith(DELIVERY_PREFIX)
            else None
        )
        if delivery is None:
            raise NotFound(f"No webhook delivery found with id '{delivery_id}'.")
        return delivery


def check_url(url: str) -> str:
    """``URL_PATTERN``, at most ``MAX_URL_LENGTH`` characters."""
    if len(url) > MAX_URL_LENGTH or not re.fullmatch(URL_PATTERN, url):
        raise InvalidRequest(
            f"Invalid 'url': '{url[:200]}'. Expected an http:// or https:// URL with a host "
            f"(ASCII, no user name or password, no spaces), at most {MAX_URL_LENGTH} characters.",
            param="url",
            code="invalid_url",
        )
    return url


def check_events(events: Iterable[str]) -> tuple[str, ...]:
    """A non-empty subset of the event types, each once, in the order given."""
    chosen = tuple(dict.fromkeys(events))
    valid = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)
    if not chosen:
        raise InvalidRequest(
            f"Invalid 'events': name at least one of {valid}.",
            param="events",
            code="invalid_value",
        )
    unknown = [kind for kind in chosen if kind not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"Invalid 'events': unknown event type '{unknown[0][:100]}'. "
            f"Supported values are: {valid}.",
            param="events",
            code="invalid_value",
        )
    return chosen


def check_description(description: str | None) -> str | None:
    check_text(description, "description")  # no NUL: PostgreSQL cannot store one
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidRequest(
            f"Invalid 'description': string too long. Expected a string with maximum length "
            f"{MAX_DESCRIPTION_LENGTH}, but got a string with length {len(description)} "
            "instead.",
            param="description",
            code="string_above_max_length",
        )
    return description
