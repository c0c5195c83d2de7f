"""B2's anchor (a): what a user would otherwise write with ``openai-chatkit`` alone.

``python -m bench.anchors.chatkit_min --port N --model-base-url URL``: a ``ChatKitServer`` with
an in-memory store, no authentication and no rate limit, answering each turn with one Agents SDK
agent on the same Chat Completions provider kithost uses — the shape of chatkit-python's own
examples (FastAPI, ``server.process``, ``stream_agent_response``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner
from chatkit.agents import AgentContext, simple_to_agent_input, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    Attachment,
    Page,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from openai import AsyncOpenAI

from bench.anchors.serving import parse, port_parser, serve

Context = dict[str, Any]


class MemoryStore(Store[Context]):
    """Threads and items in dicts; lists in insertion order, which is creation order here."""

    def __init__(self) -> None:
        self.threads: dict[str, ThreadMetadata] = {}
        self.items: dict[str, list[ThreadItem]] = {}
        self.attachments: dict[str, Attachment] = {}

    async def load_thread(self, thread_id: str, context: Context) -> ThreadMetadata:
        if thread_id not in self.threads:
            raise NotFoundError(f"Thread {thread_id} not found")
        return self.threads[thread_id].model_copy(deep=True)

    async def save_thread(self, thread: ThreadMetadata, context: Context) -> None:
        self.threads[thread.id] = thread.model_copy(deep=True)
        self.items.setdefault(thread.id, [])

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Context
    ) -> Page[ThreadItem]:
        items = list(self.items.get(thread_id, []))
        if order == "desc":
            items.reverse()
        start = 0
        if after is not None:
            ids = [item.id for item in items]
            start = ids.index(after) + 1 if after in ids else len(items)
        window = items[start : start + limit]
        has_more = start + limit < len(items)
        return Page(data=window, has_more=has_more, after=window[-1].id if has_more else None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Context
    ) -> Page[ThreadMetadata]:
        threads = sorted(self.threads.values(), key=lambda t: t.created_at, reverse=order == "desc")
        ids = [thread.id for thread in threads]
        start = ids.index(after) + 1 if after in ids else 0
        window = threads[start : start + limit]
        has_more = start + limit < len(threads)
        return Page(data=window, has_more=has_more, after=window[-1].id if has_more else None)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        self.items.setdefault(thread_id, []).append(item.model_copy(deep=True))

    async def save_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        items = self.items.setdefault(thread_id, [])
        for index, existing in enumerate(items):
            if existing.id == item.id:
                items[index] = item.model_copy(deep=True)
                return
        items.append(item.model_copy(deep=True))

    async def load_item(self, thread_id: str, item_id: str, context: Context) -> ThreadItem:
        for item in self.items.get(thread_id, []):
            if item.id == item_id:
                return item.model_copy(deep=True)
        raise NotFoundError(f"Item {item_id} not found")

    async def delete_thread(self, thread_id: str, context: Context) -> None:
        self.threads.pop(thread_id, None)
        self.items.pop(thread_id, None)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Context) -> None:
        self.items[thread_id] = [i for i in self.items.get(thread_id, []) if i.id != item_id]

    async def save_attachment(self, attachment: Attachment, context: Context) -> None:
        self.attachments[attachment.id] = attachment

    async def load_attachment(self, attachment_id: str, context: Context) -> Attachment:
        if attachment_id not in self.attachments:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return self.attachments[attachment_id]

    async def delete_attachment(self, attachment_id: str, context: Context) -> None:
        self.attachments.pop(attachment_id, None)


class MinimalServer(ChatKitServer[Context]):
    def __init__(self, store: MemoryStore, model: OpenAIChatCompletionsModel):
        super().__init__(store)
        self.agent: Agent[AgentContext[Context]] = Agent(
            name="Assistant", instructions="You are a helpful assistant.", model=model
        )

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        # As chatkit-python's README does: the new message only. (Passing the thread's history
        # through simple_to_agent_input fails on the second turn with Chat Completions: the
        # assistant's output_text parts are refused — one of the bridge bugs kithost fixes.)
        agent_input = await simple_to_agent_input(input_user_message) if input_user_message else []
        agent_context: AgentContext[Context] = AgentContext(
            thread=thread, store=self.store, request_context=context
        )
        result = Runner.run_streamed(
            self.agent,
            agent_input,
            context=agent_context,
            run_config=RunConfig(tracing_disabled=True),
        )
        async for event in stream_agent_response(agent_context, result):
            yield event


def make_app(model_base_url: str, model: str = "gpt-fake") -> FastAPI:
    client = AsyncOpenAI(base_url=model_base_url, api_key=os.environ.get("OPENAI_API_KEY", "x"))
    server = MinimalServer(MemoryStore(), OpenAIChatCompletionsModel(model, client))
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/chatkit")
    async def chatkit(request: Request) -> Response:
        result = await server.process(await request.body(), {})
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = port_parser(__doc__)
    parser.add_argument("--model-base-url", required=True)
    parser.add_argument("--model", default="gpt-fake")
    args = parse(parser, argv)
    serve(make_app(args.model_base_url, args.model), args.port, args.host)


if __name__ == "__main__":
    main()
