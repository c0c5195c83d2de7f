"""``/v1/chatkit/webhooks`` (an extension): endpoints that receive signed events, their
signing secrets, and their deliveries (docs/api.md, docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from pydantic.json_schema import SkipJsonSchema

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices, json_body
from kithost.api.listing import ListQuery
from kithost.api.openapi import json_request, ok
from kithost.api.openapi_schemas import NO_NUL
from kithost.core.errors import InvalidRequest
from kithost.core.validation import NonEmptyText, parse_model
from kithost.webhooks.model import EventType
from kithost.webhooks.service import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH, URL_PATTERN

router = APIRouter(prefix="/v1/chatkit/webhooks", dependencies=[AdminKey])

Body = Annotated[Any, Depends(json_body)]
# The service checks the URL (with its own message); the document states the same rule.
Url = Annotated[
    NonEmptyText, Field(max_length=MAX_URL_LENGTH, json_schema_extra={"pattern": URL_PATTERN})
]
Events = Annotated[list[EventType], Field(min_length=1, max_length=16)]
Description = Annotated[
    StrictStr, Field(max_length=MAX_DESCRIPTION_LENGTH, json_schema_extra={"pattern": NO_NUL})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateEndpoint(_Strict):
    url: Url
    events: Events
    description: Description | None = None
    enabled: StrictBool = True


def _without_null_default(schema: dict[str, Any]) -> None:
    """A field that may be left out but is never null: its document has no ``default: null``."""
    schema.pop("default", None)


class UpdateEndpoint(_Strict):
    """Any of the fields (left out: unchanged); ``description: null`` clears it."""

    url: Url | SkipJsonSchema[None] = Field(None, json_schema_extra=_without_null_default)
    events: Events | SkipJsonSchema[None] = Field(None, json_schema_extra=_without_null_default)
    description: Description | None = None
    enabled: StrictBool | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_without_null_default
    )


@router.post(
    "",
    operation_id="beta.chatkit.webhooks.create",
    responses=ok(wire.ChatKitWebhookEndpointWithSecret),
    openapi_extra=json_request(CreateEndpoint, "ChatKitWebhookEndpointCreateParams"),
)
async def create_endpoint(services: AppServices, body: Body) -> Any:
    """A new endpoint, with its signing secret (also at ``GET …/{webhook_id}/secret``)."""
    request = parse_model(CreateEndpoint, body)
    endpoint, secret = await services.webhooks.create(
        request.url, request.events, request.description, request.enabled
    )
    return {**endpoint.to_wire(), "secret": secret}


@router.get(
    "", operation_id="beta.chatkit.webhooks.list", responses=ok(wire.ChatKitWebhookEndpointList)
)
async def list_endpoints(services: AppServices, params: ListQuery) -> Any:
    page = await services.webhooks.list(params)
    return page.to_wire(lambda endpoint: endpoint.to_wire())


@router.get(
    "/{webhook_id}",
    operation_id="beta.chatkit.webhooks.retrieve",
    responses=ok(wire.ChatKitWebhookEndpoint, 404),
)
async def retrieve_endpoint(webhook_id: str, services: AppServices) -> Any:
    return (await services.webhooks.get(webhook_id)).to_wire()


@router.post(
    "/{webhook_id}",
    operation_id="beta.chatkit.webhooks.update",
    responses=ok(wire.ChatKitWebhookEndpoint, 404),
    openapi_extra=json_request(UpdateEndpoint, "ChatKitWebhookEndpointUpdateParams"),
)
async def update_endpoint(webhook_id: str, services: AppServices, body: Body) -> Any:
    request = parse_model(UpdateEndpoint, body)
    changes = request.model_dump(exclude_unset=True)
    for name, expected in (("url", "a string"), ("events", "an array"), ("enabled", "a boolean")):
        if name in changes and changes[name] is None:
            raise InvalidRequest(
                f"Invalid type for '{name}': expected {expected}, but got null instead.",
                param=name,
                code="invalid_type",
            )
    return (await services.webhooks.update(webhook_id, changes)).to_wire()


@router.delete(
    "/{webhook_id}",
    operation_id="beta.chatkit.webhooks.delete",
    responses=ok(wire.ChatKitWebhookEndpointDeleted, 404),
)
async def delete_endpoint(webhook_id: str, services: AppServices) -> Any:
    """The endpoint and its deliveries (pending ones are never sent)."""
    await services.webhooks.delete(webhook_id)
    return {"id": webhook_id, "object": "chatkit.webhook_endpoint.deleted", "deleted": True}


@router.get(
    "/{webhook_id}/secret",
    operation_id="beta.chatkit.webhooks.secret",
    responses=ok(wire.ChatKitWebhookSecret, 404),
)
async def endpoint_secret(webhook_id: str, services: AppServices) -> Any:
    return {"secret": await services.webhooks.secret(webhook_id)}


@router.post(
    "/{webhook_id}/rotate_secret",
    operation_id="beta.chatkit.webhooks.rotate_secret",
    responses=ok(wire.ChatKitWebhookSecret, 404),
)
async def rotate_endpoint_secret(webhook_id: str, services: AppServices) -> Any:
    """A new secret, in effect at once (the old one stops verifying)."""
    return {"secret": await services.webhooks.rotate_secret(webhook_id)}


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="beta.chatkit.webhooks.list_deliveries",
    responses=ok(wire.ChatKitWebhookDeliveryList, 404),
)
async def list_deliveries(webhook_id: str, services: AppServices, params: ListQuery) -> Any:
    """The endpoint's deliveries, newest first."""
    page = await services.webhooks.deliveries(webhook_id, params)
    return page.to_wire(lambda delivery: delivery.to_wire())


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend",
    operation_id="beta.chatkit.webhooks.resend_delivery",
    responses=ok(wire.ChatKitWebhookDelivery, 404),
)
async def resend_delivery(webhook_id: str, delivery_id: str, services: AppServices) -> Any:
    """Send it again now, with the same ``webhook-id`` (one more attempt)."""
    return (await services.webhooks.resend(webhook_id, delivery_id)).to_wire()
