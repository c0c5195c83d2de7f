"""``GET /v1/chatkit/workflows`` (extension): the workflows and versions sessions may name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kithost.api import openapi_schemas as wire
from kithost.api.deps import AdminKey, AppServices
from kithost.api.openapi import ok
from kithost.workflows.registry import WorkflowVersion

router = APIRouter(prefix="/v1/chatkit/workflows", dependencies=[AdminKey])


def _wire(version: WorkflowVersion, default: bool) -> dict[str, Any]:
    return {
        "id": version.id,
        "object": "chatkit.workflow_version",
        "version": version.version,
        "name": version.name,
        "source": version.source,
        "description": version.description,
        "default": default,
        # Suggestions for a new chat (extension); only those the workflow declares.
        "starter_prompts": [prompt.wire() for prompt in version.starter_prompts],
        # What it needs on this server (extension): the same findings as `workflows check`.
        "status": "unavailable" if version.unavailable_reason else "available",
        "unavailable_reason": version.unavailable_reason,
        "requirements": [finding.wire() for finding in version.findings],
    }


@router.get(
    "", operation_id="beta.chatkit.workflows.list", responses=ok(wire.ChatKitWorkflowVersionList)
)
async def list_workflows(services: AppServices) -> Any:
    registry = services.workflows
    data = [
        _wire(version, default=registry.resolve(version.id).version == version.version)
        for version in registry.list()
    ]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }
