"""``kithost traces``: a thread's recorded runs as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from kithost.cli.common import nothing_found, print_json, run
from kithost.core.traces import traces_to_wire

if TYPE_CHECKING:
    from kithost.services import Services


def register(app: typer.Typer) -> None:
    app.command()(traces)


def traces(thread_id: str) -> None:
    """Print the recorded runs of a thread (sessions with tracing enabled) as JSON."""

    async def work(services: Services) -> dict[str, Any]:
        await services.threads.get(thread_id)
        return traces_to_wire(await services.traces.for_thread(thread_id))

    found = run(work, looks_up=True)
    if not found["data"]:
        nothing_found(f"traces for {thread_id} (only sessions with tracing on record them)")
    print_json(found)
