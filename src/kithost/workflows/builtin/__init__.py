"""Workflows that ship with kithost and need no model, so a fresh install answers at once."""

from __future__ import annotations

from kithost.workflows.registry import WorkflowVersion

DEMO_WORKFLOW_ID = "wf_kithost_demo"


def builtin_workflows() -> list[WorkflowVersion]:
    return [
        WorkflowVersion(
            id=DEMO_WORKFLOW_ID,
            version="1",
            name="kithost demo (offline)",
            source="builtin",
            description="Streams a reply without any model provider.",
        )
    ]
