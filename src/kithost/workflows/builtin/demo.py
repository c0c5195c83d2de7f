"""``wf_kithost_demo``: what a fresh ``make serve`` answers with, no model configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from chatkit.types import (
    CustomTask,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
)

from kithost.workflows.base import Turn, stream_assistant_text, user_text

WORD_DELAY_SECONDS = 0.03


def _reply(text: str) -> str:
    quoted = f"“{text}”" if text else "an empty message"
    return (
        f"You wrote {quoted}. This answer comes from kithost's built-in demo workflow, "
        "which runs without any model. To answer with a real model, drop an Agent Builder "
        "export into the `workflows/` folder, or set `OPENAI_API_KEY` (or point "
        "`OPENAI_BASE_URL` at any OpenAI-compatible server) and create a session with your "
        "workflow's id."
    )


class DemoWorkflow:
    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = user_text(turn.input)
        tasks = WorkflowItem(
            id=turn.new_item_id(),
            thread_id=turn.thread.id,
            created_at=datetime.now(),
            workflow=Workflow(
                type="custom",
                tasks=[
                    CustomTask(title="Read your message", content=text or None),
                    CustomTask(title="Write a reply without a model"),
                ],
                expanded=False,
            ),
        )
        yield ThreadItemAddedEvent(item=tasks)
        yield ThreadItemDoneEvent(item=tasks)

        async def words() -> AsyncIterator[str]:
            for index, word in enumerate(_reply(text).split(" ")):
                yield word if index == 0 else f" {word}"
                await asyncio.sleep(WORD_DELAY_SECONDS)

        async for event in stream_assistant_text(turn, words()):
            yield event
