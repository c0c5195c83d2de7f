"""``wf_kithost_echo``: repeats the user's words, at a pace the session chooses.

Deterministic and model-free, so it shows streaming, Stop and reconnects without a provider.
State variables: ``delay_ms`` (pause between words, default 0) and ``repeat`` (default 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from chatkit.types import ThreadStreamEvent

from kithost.workflows.base import Turn, stream_assistant_text, user_text

MAX_REPEAT = 10_000
MAX_DELAY_MS = 10_000


def _bounded(value: object, default: int, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(0, min(int(value), upper))


class EchoWorkflow:
    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        state = turn.state_variables
        delay = _bounded(state.get("delay_ms"), 0, MAX_DELAY_MS) / 1000
        repeat = max(1, _bounded(state.get("repeat"), 1, MAX_REPEAT))
        words = (user_text(turn.input) or "(no text)").split()

        async def chunks() -> AsyncIterator[str]:
            for round_ in range(repeat):
                for index, word in enumerate(words):
                    first = round_ == 0 and index == 0
                    yield word if first else f" {word}"
                    if delay:
                        await asyncio.sleep(delay)

        async for event in stream_assistant_text(turn, chunks()):
            yield event
