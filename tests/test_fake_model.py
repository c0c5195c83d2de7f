"""The fake model server works with the real clients: the openai SDK and the Agents SDK.

Everything here goes over real sockets: scripted replies must parse in the SDKs exactly as
OpenAI's would, or tests built on the fake would prove nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import httpx
import openai
import pytest
from agents import (
    Agent,
    ModelBehaviorError,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    RunResult,
    RunResultStreaming,
    function_tool,
    set_tracing_disabled,
)
from agents.models.fake_id import FAKE_RESPONSES_ID
from pydantic import BaseModel

from tests.support.fake_model import (
    FakeModelProcess,
    FakeModelServer,
    ToolCall,
    endless,
    error,
    hang,
    malformed,
    stream_error,
    structured,
    text,
    tool_call,
    tool_calls,
)

Api = Literal["chat", "responses"]
APIS: tuple[Api, ...] = ("chat", "responses")


@pytest.fixture(scope="module", autouse=True)
def _no_tracing() -> None:
    """The Agents SDK would otherwise try to export traces to OpenAI."""
    set_tracing_disabled(True)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModelServer]:
    with FakeModelServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_script(fake: FakeModelServer) -> None:
    fake.reset()


@pytest.fixture
async def client(fake: FakeModelServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """No SDK retries, so one scripted error is one raised error."""
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as sdk:
        yield sdk


def agent(
    api: Api, client: openai.AsyncOpenAI, instructions: str = "Be brief.", **options: Any
) -> Agent[Any]:
    """An agent on the given provider API, pointed at the fake."""
    model = (
        OpenAIChatCompletionsModel(model="gpt-fake", openai_client=client)
        if api == "chat"
        else OpenAIResponsesModel(model="gpt-fake", openai_client=client)
    )
    return Agent(name="assistant", instructions=instructions, model=model, **options)


async def run(
    target: Agent[Any], user_input: str | list[Any], streamed: bool
) -> RunResult | RunResultStreaming:
    """``Runner.run``, or ``Runner.run_streamed`` with its events consumed."""
    if not streamed:
        return await Runner.run(target, user_input)
    result = Runner.run_streamed(target, user_input)
    async for _ in result.stream_events():
        pass
    return result


def chat_messages(content: str = "hi") -> list[Any]:
    return [{"role": "user", "content": content}]


# --- The openai SDK, both APIs -------------------------------------------------------------


async def test_models_are_listed(client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [model.id for model in models.data] == ["gpt-fake"]
    assert (await client.models.retrieve("gpt-other")).id == "gpt-other"


async def test_unscripted_requests_echo_the_last_user_message(
    fake: FakeModelServer, client: openai.AsyncOpenAI
) -> None:
    completion = await client.chat.completions.create(
        model="gpt-fake", messages=[*chat_messages("first"), {"role": "user", "content": "again"}]
    )
    response = await client.responses.create(model="gpt-fake", input="say this")
    assert completion.choices[0].message.content == "again"
    assert response.output_text == "say this"
    assert [r.outcome for r in fake.requests] == ["completed", "completed"]


async def test_chat_completion(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    fake.push(text("Hello there, friend."))
    completion = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be kind."}, *chat_messages()],
    )
    assert completion.choices[0].message.content == "Hello there, friend."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    (request,) = fake.requests
    assert request.api == "chat"
    assert request.model == "gpt-4o-mini"
    assert not request.stream
    assert request.instructions == "Be kind."
    assert request.transcript == [("system", "Be kind."), ("user", "hi")]
    assert request.headers["authorization"] == "Bearer x"


async def test_chat_completion_stream(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    fake.push(text("One two three four"))
    stream = await client.chat.completions.create(
        model="gpt-fake",
        messages=chat_messages(),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert deltas == ["One ", "two ", "three ", "four"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert fake.requests[0].stream
    assert fake.requests[0].outcome == "completed"


async def test_responses_create(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    fake.push(text("A plain answer."))
    response = await client.responses.create(
        model="gpt-fake", instructions="Answer plainly.", input="question?"
    )
    assert response.output_text == "A plain answer."
    assert response.status == "completed"
    assert response.usage is not None
    assert response.usage.output_tokens == 3
    (request,) = fake.requests
    assert request.api == "responses"
    assert request.instructions == "Answer plainly."
    assert response.id == request.response_id
    assert [item.id for item in response.output] == request.item_ids


async def test_responses_stream_event_sequence(
    fake: FakeModelServer, client: openai.AsyncOpenAI
) -> None:
    fake.push(text("Streaming works fine"))
    stream = await client.responses.create(model="gpt-fake", input="go", stream=True)
    events = [event async for event in stream]
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "Streaming works fine"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == 3
    item_ids = {getattr(event, "item_id", None) for event in events[3:-2]}
    assert item_ids == set(fake.requests[0].item_ids)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_tool_calls(
    fake: FakeModelServer, client: openai.AsyncOpenAI, stream: bool
) -> None:
    fake.push(
        tool_calls(
            ToolCall("get_weather", {"city": "Paris"}, call_id="call_1"),
            ToolCall("get_time", '{"tz": "CET"}'),
        )
    )
    calls: dict[int, dict[str, str]] = {}
    if stream:
        chunks = await client.chat.completions.create(
            model="gpt-fake", messages=chat_messages(), stream=True
        )
        async for chunk in chunks:
            for delta in chunk.choices[0].delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                assert delta.function is not None
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
            finish = chunk.choices[0].finish_reason
    else:
        completion = await client.chat.completions.create(
            model="gpt-fake", messages=chat_messages()
        )
        message = completion.choices[0].message
        assert message.content is None
        for index, tool in enumerate(message.tool_calls or []):
            assert tool.type == "function"
            calls[index] = {"id": tool.id, **tool.function.model_dump()}
        finish = completion.choices[0].finish_reason
    assert finish == "tool_calls"
    assert calls[0] == {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert calls[1]["name"] == "get_time"
    assert json.loads(calls[1]["arguments"]) == {"tz": "CET"}
    assert calls[1]["id"] == fake.requests[0].item_ids[1]


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_tool_call(
    fake: FakeModelServer, client: openai.AsyncOpenAI, stream: bool
) -> None:
    fake.push(tool_call("get_weather", {"city": "Paris"}, text="Let me check."))
    if stream:
        events = [e async for e in await client.responses.create(model="m", input="?", stream=True)]
        assert "response.function_call_arguments.delta" in {event.type for event in events}
        assert events[-1].type == "response.completed"
        response = events[-1].response
    else:
        response = await client.responses.create(model="m", input="?")
    message, call = response.output
    assert message.type == "message"
    assert response.output_text == "Let me check."
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_")


@pytest.mark.parametrize("stream", [False, True])
async def test_http_error_raises_the_sdk_error(
    fake: FakeModelServer, client: openai.AsyncOpenAI, stream: bool
) -> None:
    fake.push(error(429, "Slow down.", code="rate_limit_exceeded"))
    fake.push(error(500))
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="m", messages=chat_messages(), stream=stream)
    assert limited.value.code == "rate_limit_exceeded"
    assert "Slow down." in limited.value.message
    with pytest.raises(openai.InternalServerError):
        await client.responses.create(model="m", input="hi", stream=stream)
    assert [request.outcome for request in fake.requests] == ["error", "error"]


async def test_sdk_retry_takes_the_next_reply(fake: FakeModelServer) -> None:
    fake.push(error(503, headers={"retry-after-ms": "10"}), text("Recovered."))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=1) as sdk:
        response = await sdk.responses.create(model="m", input="hi")
    assert response.output_text == "Recovered."
    assert len(fake.requests) == 2
    assert fake.pending == 0


async def test_invalid_history_is_rejected_like_openai(
    fake: FakeModelServer, client: openai.AsyncOpenAI
) -> None:
    orphan_tool_result = [*chat_messages(), {"role": "tool", "tool_call_id": "x", "content": "1"}]
    with pytest.raises(openai.BadRequestError, match="role 'tool'"):
        await client.chat.completions.create(model="m", messages=orphan_tool_result)
    assistant_output_text: list[Any] = [
        {"role": "assistant", "content": [{"type": "output_text", "text": "a"}]}
    ]
    with pytest.raises(openai.BadRequestError, match="output_text"):
        await client.chat.completions.create(model="m", messages=assistant_output_text)
    unanswered_call: list[Any] = [
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    ]
    with pytest.raises(openai.BadRequestError, match="No tool output found"):
        await client.responses.create(model="m", input=unanswered_call)
    assert [request.outcome for request in fake.requests] == ["rejected"] * 3
    assert fake.requests[0].problem is not None


async def test_pacing(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    fake.push(text("a b c d", first_token_delay=0.3, token_interval=0.1))
    started = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=chat_messages(), stream=True)
    arrivals = [
        time.monotonic() - started
        async for chunk in stream
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert len(arrivals) == 4
    assert arrivals[0] >= 0.3
    # Only lower bounds: a loaded machine can deliver two paced tokens together, never early.
    assert arrivals[-1] >= 0.3 + 3 * 0.1


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_until_the_client_times_out(
    fake: FakeModelServer, client: openai.AsyncOpenAI, stream: bool
) -> None:
    fake.push(hang("partial"))

    async def consume() -> None:
        response: Any = await client.with_options(timeout=0.3).responses.create(
            model="m", input="hi", stream=stream
        )
        async for _ in response:
            pass

    with pytest.raises(openai.APITimeoutError):
        await consume()
    assert await fake.requests[0].wait_done_async() == "disconnected"


@pytest.mark.parametrize("api", APIS)
async def test_malformed_streams(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    async def consume() -> list[Any]:
        if api == "chat":
            stream: Any = await client.chat.completions.create(
                model="m", messages=chat_messages(), stream=True
            )
        else:
            stream = await client.responses.create(model="m", input="hi", stream=True)
        return [event async for event in stream]

    fake.push(malformed("garbage"))
    with pytest.raises(json.JSONDecodeError):
        await consume()

    fake.push(malformed("abort"))
    with pytest.raises(openai.APIConnectionError):
        await consume()

    fake.push(malformed("truncate", "cut short"))
    events = await consume()
    if api == "chat":
        assert [e.choices[0].finish_reason for e in events] == [None, None, None]
    else:
        assert events[-1].type == "response.output_text.delta"

    fake.push(stream_error("The model broke."))
    if api == "chat":
        with pytest.raises(openai.APIError, match="The model broke"):
            await consume()
    else:
        events = await consume()
        assert events[-1].type == "error"
        assert events[-1].message == "The model broke."
    assert {request.outcome for request in fake.requests} == {"broken"}


@pytest.mark.parametrize("kind", ["garbage", "truncate"])
async def test_unparsable_non_streaming_bodies(
    fake: FakeModelServer, client: openai.AsyncOpenAI, kind: Literal["garbage", "truncate"]
) -> None:
    fake.push(malformed(kind), malformed(kind))
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model="m", messages=chat_messages())
    with pytest.raises(json.JSONDecodeError):
        await client.responses.create(model="m", input="hi")


async def test_failed_non_streaming_responses(
    fake: FakeModelServer, client: openai.AsyncOpenAI
) -> None:
    fake.push(malformed("abort"), stream_error("Failed."), stream_error("Failed."))
    with pytest.raises(openai.APIConnectionError):
        await client.responses.create(model="m", input="hi")
    failed = await client.responses.create(model="m", input="hi")
    assert failed.status == "failed"
    assert failed.error is not None
    with pytest.raises(openai.InternalServerError, match="Failed"):
        await client.chat.completions.create(model="m", messages=chat_messages())


async def test_stopping_the_server_ends_hung_replies() -> None:
    with FakeModelServer() as server:
        server.push(hang("waiting"))
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk:
            call = asyncio.create_task(sdk.responses.create(model="m", input="hi"))
            (request,) = await server.wait_for_requests_async(1)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 2
            with pytest.raises(openai.APIError):
                await call
    assert request.outcome == "stopped"


async def test_rules_come_before_the_queue(
    fake: FakeModelServer, client: openai.AsyncOpenAI
) -> None:
    fake.when(lambda r: "Classify" in r.instructions, structured({"category": "billing"}))
    fake.when(lambda r: r.last_user_text == "once", text("only once"), times=1)
    fake.push(text("queued"))

    async def ask(instructions: str, user: str) -> str:
        response = await client.responses.create(model="m", instructions=instructions, input=user)
        return response.output_text

    assert await ask("Classify the message.", "x") == '{"category": "billing"}'
    assert await ask("Answer.", "once") == "only once"
    assert await ask("Answer.", "once") == "queued"
    assert await ask("Answer.", "once") == "once"  # queue empty: the default echo
    assert await ask("Classify again.", "y") == '{"category": "billing"}'


async def test_wait_for_requests(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    fake.push(text("slow", first_token_delay=0.2))
    task = asyncio.create_task(client.responses.create(model="m", input="hi"))
    (request,) = await fake.wait_for_requests_async(1)
    assert request.outcome == "pending"
    await task
    assert await request.wait_done_async() == "completed"
    with pytest.raises(TimeoutError):
        await fake.wait_for_requests_async(2, timeout=0.05)


# --- The Agents SDK, both model classes ---------------------------------------------------


class Category(BaseModel):
    category: Literal["billing", "shipping", "other"]
    confidence: float


@function_tool
def lookup_order(order_id: int) -> str:
    """Look up an order's shipping status."""
    return f"order {order_id}: shipped"


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", APIS)
async def test_agent_text(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api, streamed: bool
) -> None:
    fake.push(text("Hello from the fake model."))
    result = await run(agent(api, client, "You are terse."), "hello", streamed)
    assert result.final_output == "Hello from the fake model."
    (request,) = fake.requests
    assert request.api == api
    assert request.model == "gpt-fake"
    assert request.stream == streamed
    assert request.instructions == "You are terse."
    assert request.last_user_text == "hello"


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", APIS)
async def test_agent_structured_output(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api, streamed: bool
) -> None:
    fake.push(structured({"category": "shipping", "confidence": 0.9}))
    classifier = agent(api, client, "Classify the message.", output_type=Category)
    result = await run(classifier, "Where is my parcel?", streamed)
    assert result.final_output == Category(category="shipping", confidence=0.9)
    schema = fake.requests[0].output_schema
    assert schema is not None
    assert schema["required"] == ["category", "confidence"]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", APIS)
async def test_agent_tool_round_trip(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api, streamed: bool
) -> None:
    fake.push(tool_call("lookup_order", {"order_id": 42}), text("Your order has shipped."))
    result = await run(agent(api, client, tools=[lookup_order]), "Where is 42?", streamed)
    assert result.final_output == "Your order has shipped."
    first, second = fake.requests
    assert first.tool_names == ["lookup_order"]
    assert second.transcript[-2:] == [
        ("tool_call", 'lookup_order({"order_id": 42})'),
        ("tool", "order 42: shipped"),
    ]
    assert fake.pending == 0


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", APIS)
async def test_agent_error_reply_raises(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api, streamed: bool
) -> None:
    fake.push(error(500, "Provider down."))
    with pytest.raises(openai.InternalServerError, match="Provider down"):
        await run(agent(api, client), "hi", streamed)


@pytest.mark.parametrize("api", APIS)
async def test_agent_mid_stream_error(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    fake.push(stream_error("Overloaded."))
    expected = openai.APIError if api == "chat" else ModelBehaviorError
    with pytest.raises(expected, match="Overloaded"):
        await run(agent(api, client), "hi", streamed=True)


@pytest.mark.parametrize("api", APIS)
async def test_agent_sees_earlier_turns(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    fake.push(text("First answer."), text("Second answer."))
    assistant = agent(api, client)
    first = await Runner.run(assistant, "first question")
    follow_up: list[Any] = [*first.to_input_list(), {"role": "user", "content": "second question"}]
    second = await Runner.run(assistant, follow_up)
    assert second.final_output == "Second answer."
    conversation = [turn for turn in fake.requests[1].transcript if turn[0] != "system"]
    assert conversation == [
        ("user", "first question"),
        ("assistant", "First answer."),
        ("user", "second question"),
    ]


@pytest.mark.parametrize("api", APIS)
async def test_agent_stops_a_hung_stream(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    """What a ChatKit Stop does: cancel the run while the model is mid-answer."""
    fake.push(hang("This answer never ends"))
    result = Runner.run_streamed(agent(api, client), "hi")
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            result.cancel()
    assert await fake.requests[0].wait_done_async() == "disconnected"


@pytest.mark.parametrize("api", APIS)
async def test_agent_times_out_on_a_hang(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    fake.push(hang())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await Runner.run(agent(api, client), "hi")
    assert await fake.requests[0].wait_done_async() == "disconnected"


@pytest.mark.parametrize("api", APIS)
async def test_endless_stream_is_cancelled(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    fake.push(endless(token_interval=0.005))
    result = Runner.run_streamed(agent(api, client), "hi")
    deltas = 0
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas += 1
            if deltas == 20:
                result.cancel()
    assert deltas >= 20
    assert await fake.requests[0].wait_done_async() == "disconnected"


@pytest.mark.parametrize("api", APIS)
async def test_one_turn_calls_two_agents(
    fake: FakeModelServer, client: openai.AsyncOpenAI, api: Api
) -> None:
    """A triage agent and an answering agent in one turn, told apart by their instructions."""
    fake.when(
        lambda r: "Classify" in r.instructions,
        structured({"category": "billing", "confidence": 1.0}),
    )
    fake.when(lambda r: "billing" in r.instructions, lambda r: text(f"Billing: {r.last_user_text}"))
    triage = agent(api, client, "Classify the request.", output_type=Category)
    category = (await Runner.run(triage, "I was charged twice")).final_output
    answer = await Runner.run(agent(api, client, f"You handle {category.category}."), "Refund me")
    assert answer.final_output == "Billing: Refund me"
    assert [request.output_schema is not None for request in fake.requests] == [True, False]


async def raw_events(target: Agent[Any]) -> list[Any]:
    """The Responses-shaped events a streamed run yields (what ChatKit's bridge consumes)."""
    result = Runner.run_streamed(target, "hi")
    return [e.data async for e in result.stream_events() if e.type == "raw_response_event"]


async def test_agents_events_per_api(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    """Quirks of the Chat Completions path: it synthesizes every item id as ``__fake_id__``
    and emits neither ``response.in_progress`` nor ``response.output_text.done`` (so ChatKit
    sends no ``content_part.done``). The Responses path passes the model's events and ids on."""
    chat = await raw_events(agent("chat", client))
    assert [event.type for event in chat] == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert chat[1].item.id == chat[3].item_id == FAKE_RESPONSES_ID == "__fake_id__"

    responses = await raw_events(agent("responses", client))
    assert [event.type for event in responses] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert responses[2].item.id == responses[4].item_id == fake.requests[-1].item_ids[0]


async def test_what_the_agents_sdk_sends(fake: FakeModelServer, client: openai.AsyncOpenAI) -> None:
    """Documents the request fields (to a non-OpenAI base URL) that kithost tests may assert."""
    await Runner.run(agent("chat", client, tools=[lookup_order]), "hi")
    result = Runner.run_streamed(agent("chat", client), "hi")
    async for _ in result.stream_events():
        pass
    await Runner.run(agent("responses", client), "hi")
    chat_body, chat_stream_body, responses_body = (request.body for request in fake.requests)
    assert chat_body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat_body["tools"][0]["function"]["name"] == "lookup_order"
    # Not an OpenAI URL: no ``store`` and no ``stream_options`` (so no usage while streaming).
    assert "store" not in chat_body
    assert "stream_options" not in chat_stream_body
    assert chat_stream_body["stream"] is True
    assert responses_body["instructions"] == "Be brief."
    assert responses_body["input"] == [{"role": "user", "content": "hi"}]
    assert "previous_response_id" not in responses_body


# --- As a separate process (benchmarks) ---------------------------------------------------


def test_process_mode_streams_paced_tokens() -> None:
    with FakeModelProcess(tokens=5, token_interval=0.02) as process:
        with openai.OpenAI(base_url=process.base_url, api_key="x", max_retries=0) as sdk:
            started = time.monotonic()
            stream = sdk.chat.completions.create(model="m", messages=chat_messages(), stream=True)
            deltas = [c.choices[0].delta.content for c in stream if c.choices[0].delta.content]
            elapsed = time.monotonic() - started
            events = list(sdk.responses.create(model="m", input="hi", stream=True))
        assert deltas == ["t0 ", "t1 ", "t2 ", "t3 ", "t4 "]
        assert elapsed >= 0.08
        assert events[-1].type == "response.completed"
        assert [r["api"] for r in process.requests()] == ["chat", "responses"]


def test_process_mode_endless_stream() -> None:
    with FakeModelProcess(tokens=0, token_interval=0.001) as process:
        with httpx.Client(base_url=process.base_url, timeout=10) as http:
            body = {"model": "m", "input": "hi", "stream": True}
            with http.stream("POST", "/responses", json=body) as response:
                deltas = 0
                for line in response.iter_lines():
                    deltas += '"response.output_text.delta"' in line
                    if deltas == 50:
                        break
            assert http.get("/models").status_code == 200
        assert deltas == 50
        deadline = time.monotonic() + 5
        while process.requests()[0]["outcome"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.requests()[0]["outcome"] == "disconnected"
