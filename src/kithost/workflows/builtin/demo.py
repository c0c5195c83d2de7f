"""``wf_kithost_demo``: what a fresh ``make serve`` answers with, no model configured.

It shows each kind of thing a ChatKit answer can hold: a progress line, a task list (a
workflow item), streamed text, and a widget whose button comes back as an action.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.types import (
    CustomTask,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import DynamicWidgetRoot

from kithost.workflows.base import Turn, stream_assistant_text, user_text

WORD_DELAY_SECONDS = 0.03
MORE_ACTION = "kithost.demo.more"


def _reply(text: str) -> str:
    quoted = f"“{text}”" if text else "an empty message"
    return (
        f"You wrote {quoted}. This answer comes from kithost's built-in demo workflow, "
        "which runs without any model. To answer with a real model, drop an Agent Builder "
        "export into the `workflows/` folder, or set `OPENAI_API_KEY` (or point "
        "`OPENAI_BASE_URL` at any OpenAI-compatible server) and create a session with your "
        "workflow's id."
    )


def _card(words: int) -> dict[str, Any]:
    return {
        "type": "Card",
        "children": [
            {
                "type": "Row",
                "children": [
                    {"type": "Title", "value": "kithost demo"},
                    {"type": "Spacer"},
                    {"type": "Badge", "label": "offline", "color": "success"},
                ],
            },
            {"type": "Text", "value": f"Your message had {words} words.", "color": "secondary"},
            {"type": "Divider"},
            {
                "type": "Button",
                "label": "What else can kithost do?",
                "onClickAction": {"type": MORE_ACTION, "payload": {"words": words}},
            },
        ],
    }


MORE_TEXT = (
    "kithost serves OpenAI's hosted ChatKit API from your own machine: sessions with short-lived "
    "client secrets, threads in SQLite or PostgreSQL, uploads, and Agent Builder exports on "
    "any model provider."
)


class DemoWorkflow:
    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = user_text(turn.input)
        yield ProgressUpdateEvent(text="Reading your message")
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
        card = WidgetItem(
            id=turn.new_item_id(),
            thread_id=turn.thread.id,
            created_at=datetime.now(),
            widget=DynamicWidgetRoot.model_validate(_card(len(text.split()))),
        )
        yield ThreadItemDoneEvent(item=card)

    async def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The card's button: a notice, then a short streamed answer."""
        if action.type != MORE_ACTION:
            yield NoticeEvent(level="warning", message=f"Unknown action `{action.type}`.")
            return
        yield NoticeEvent(level="info", message="This came back from the card's button.")

        async def words() -> AsyncIterator[str]:
            for index, word in enumerate(MORE_TEXT.split(" ")):
                yield word if index == 0 else f" {word}"
                await asyncio.sleep(WORD_DELAY_SECONDS)

        async for event in stream_assistant_text(turn, words()):
            yield event
