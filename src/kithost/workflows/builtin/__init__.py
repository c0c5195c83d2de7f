"""Workflows that ship with kithost and need no model, so a fresh install answers at once."""

from __future__ import annotations

from kithost.workflows.builtin.demo import DemoWorkflow
from kithost.workflows.builtin.echo import EchoWorkflow
from kithost.workflows.builtin_ids import DEMO_WORKFLOW_ID, ECHO_WORKFLOW_ID
from kithost.workflows.registry import WorkflowVersion
from kithost.workflows.starter_prompts import StarterPrompt

__all__ = ["DEMO_WORKFLOW_ID", "ECHO_WORKFLOW_ID", "builtin_workflows"]


def builtin_workflows() -> list[WorkflowVersion]:
    return [
        WorkflowVersion(
            id=DEMO_WORKFLOW_ID,
            version="1",
            name="kithost demo (offline)",
            source="builtin",
            runnable=DemoWorkflow(),
            description="Answers without any model provider: a task list and a streamed reply.",
            starter_prompts=(
                StarterPrompt("What is kithost?", "What is kithost?"),
                StarterPrompt(
                    "Show me some markdown",
                    "**Bold**, _italic_, `code` and a [link](https://example.com)",
                ),
            ),
        ),
        WorkflowVersion(
            id=ECHO_WORKFLOW_ID,
            version="1",
            name="echo (offline)",
            source="builtin",
            runnable=EchoWorkflow(),
            description=(
                "Streams the user's message back word by word; state variables "
                "`delay_ms` and `repeat` set its pace and length."
            ),
        ),
    ]
