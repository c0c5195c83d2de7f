"""What a turn does around the workflow: tracing, failures, Stop and titles, on both model APIs.

Failures of the model provider (an HTTP error, a timeout, a broken stream, none configured) end
the stream with a ChatKit ``error`` event that says what happened; the stream never hangs, and
the thread takes the next message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.chatkit_stream import Conversation, client_secret, first_delta
from tests.support.fake_model import (
    FakeModelServer,
    ModelRequest,
    Reply,
    endless,
    error,
    hang,
    malformed,
    stream_error,
    structured,
    text,
)
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    EXPORT_NAMES,
    EXPORTS,
    FAQ_BOT,
    SUPPORT_TRIAGE,
    ModelApi,
    admin_client,
    control_get,
    copy_fixture_exports,
    is_title_request,
    kithost_env,
    serving,
    workflow_requests,
)

# Small, so that a model that never answers fails the turn quickly.
MODEL_TIMEOUT_SECONDS = "2"


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"runtime-{api}")
    folder = workdir / "workflows"
    copy_fixture_exports(folder)
    env = kithost_env(fake.base_url, api, folder, KITHOST_MODEL_TIMEOUT=MODEL_TIMEOUT_SECONDS)
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_script(fake: FakeModelServer) -> None:
    fake.reset()


def answering(request: ModelRequest) -> bool:
    return not is_title_request(request)


def traces(kithost: KithostProcess, thread_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = control_get(kithost, f"/v1/chatkit/threads/{thread_id}/traces")[
        "data"
    ]
    return data


# --- tracing ---------------------------------------------------------------------------------


def test_tracing_records_agents_and_model_calls_with_usage(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, api: ModelApi
) -> None:
    answer = "We open at 7am."
    fake.push(text(answer))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT, titling=False)) as chat:
        stream = chat.start("When do you open?")
    assert stream.answer == answer

    [trace] = traces(kithost, stream.thread_id)
    assert trace["object"] == "chatkit.trace"
    assert (trace["thread_id"], trace["workflow_id"]) == (stream.thread_id, FAQ_BOT)
    spans = {span["type"]: span for span in trace["spans"]}
    assert spans["agent"]["name"] == "FAQ bot"
    model_call = spans["generation" if api == "chat_completions" else "response"]
    usage = model_call["data"]["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] == len(answer.split())  # one token per word from the fake
    for span in trace["spans"]:
        assert span["object"] == "chatkit.trace.span"
        assert span["error"] is None


def test_tracing_records_every_agent_of_a_turn(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(lambda r: "Classify" in r.instructions, structured({"category": "general"}))
    fake.push(text("Coverage is fine."))
    with Conversation(kithost.url, client_secret(admin, SUPPORT_TRIAGE, titling=False)) as chat:
        stream = chat.start("Do you cover the coast?")
        chat.reply(stream.thread_id, "And inland?")

    recorded = traces(kithost, stream.thread_id)
    assert len(recorded) == 2  # one trace per turn
    for trace in recorded:
        agents = [span["name"] for span in trace["spans"] if span["type"] == "agent"]
        assert agents == ["Triage", "General agent"]


def test_no_spans_when_tracing_is_disabled(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(text("We open at 7am."))
    secret = client_secret(admin, FAQ_BOT, tracing=False, titling=False)
    with Conversation(kithost.url, secret) as chat:
        stream = chat.start("When do you open?")
    assert stream.answer == "We open at 7am."
    assert traces(kithost, stream.thread_id) == []


# --- failures --------------------------------------------------------------------------------


def fail_turn(
    kithost: KithostProcess, admin: openai.OpenAI, workflow_id: str = FAQ_BOT
) -> tuple[str, dict[str, Any]]:
    """One turn that must end with exactly one error event; the thread id and the event."""
    with Conversation(kithost.url, client_secret(admin, workflow_id)) as chat:
        stream = chat.start("Hello?")
    assert not stream.stopped
    assert stream.done_items("assistant_message") == []
    [failure] = stream.errors
    assert stream.events[-1] == failure
    return stream.thread_id, failure


@pytest.mark.parametrize("workflow_id", EXPORTS, ids=EXPORT_NAMES)
def test_provider_error_is_an_error_event(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, workflow_id: str
) -> None:
    fake.when(answering, error(500))
    _, failure = fail_turn(kithost, admin, workflow_id)
    assert failure["message"] == "The model provider answered with an error (HTTP 500)."
    assert failure["allow_retry"] is True
    # The openai client's own retries, each answered with the error; no title was asked.
    assert [request.wait_done() for request in fake.requests] == ["error"] * 3


def test_model_that_never_answers_times_out(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(answering, hang("Let me think"))
    _, failure = fail_turn(kithost, admin)
    assert failure["message"] == "The model provider did not answer in time. Try again."
    # kithost hung up on the model.
    assert fake.requests[0].wait_done(timeout=10) == "disconnected"


MALFORMED: dict[str, tuple[Reply, str]] = {
    "not_json": (
        malformed("garbage"),
        "The model provider sent a malformed response that kithost could not read.",
    ),
    "dropped_connection": (
        malformed("abort"),
        "The model provider's connection broke off before the answer was complete.",
    ),
    "error_in_stream": (
        stream_error("The fake model failed mid-stream."),
        "The fake model failed mid-stream.",
    ),
}


@pytest.mark.parametrize("workflow_id", EXPORTS, ids=EXPORT_NAMES)
@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_answer_is_an_error_event(
    kithost: KithostProcess,
    admin: openai.OpenAI,
    fake: FakeModelServer,
    api: ModelApi,
    kind: str,
    workflow_id: str,
) -> None:
    """Streamed (faq_bot) and not (support_triage's classifier)."""
    reply, message = MALFORMED[kind]
    fake.when(answering, reply)
    _, failure = fail_turn(kithost, admin, workflow_id)
    unstreamed = workflow_id == SUPPORT_TRIAGE
    if unstreamed and kind == "error_in_stream" and api == "chat_completions":
        message = "(HTTP 500)"  # without a stream, Chat Completions fails with a status
    assert message in failure["message"]
    assert "Traceback" not in failure["message"]
    assert "failed (" not in failure["message"]  # not just an exception's class name


def test_thread_takes_the_next_message_after_a_failure(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(error(503), error(503), error(503), text("Back to normal."))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT, titling=False)) as chat:
        failed = chat.start("Are you open today?")
        retried = chat.reply(failed.thread_id, "Are you open today?")
    assert "HTTP 503" in failed.errors[0]["message"]
    assert retried.errors == []
    assert retried.answer == "Back to normal."


def test_no_provider_configured_is_an_error_event(
    database_url: str,
    start_kithost: Callable[..., KithostProcess],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "workflows"
    copy_fixture_exports(folder)
    kithost = start_kithost(
        database_url, KITHOST_WORKFLOWS_DIR=str(folder), OPENAI_API_KEY="", OPENAI_BASE_URL=""
    )
    with admin_client(kithost) as admin:
        thread_id, failure = fail_turn(kithost, admin)
        title = admin.beta.chatkit.threads.retrieve(thread_id).title
    assert failure["message"].startswith("No model provider is configured")
    assert "OPENAI_API_KEY" in failure["message"]
    assert "OPENAI_BASE_URL" in failure["message"]
    assert title is None


# --- Stop --------------------------------------------------------------------------------------


def test_stop_mid_answer_cancels_the_model_call_and_the_thread_goes_on(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(endless("and more ", token_interval=0.05), text("Here is a shorter answer."))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT, titling=False)) as chat:
        stopped = chat.start("Tell me everything about sourdough", stop_when=first_delta)
        assert stopped.stopped
        # The browser hung up; kithost in turn hangs up on the model.
        assert fake.requests[0].wait_done(timeout=10) == "disconnected"

        after = chat.reply(stopped.thread_id, "Shorter, please")

    assert after.errors == []
    assert after.answer == "Here is a shorter answer."
    _, request = fake.requests
    said = [pair for pair in request.transcript if pair[0] in ("user", "assistant")]
    assert said[0] == ("user", "Tell me everything about sourdough")
    assert said[-1] == ("user", "Shorter, please")


# --- titles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("workflow_id", EXPORTS, ids=EXPORT_NAMES)
def test_the_model_writes_the_title(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, workflow_id: str
) -> None:
    fake.when(is_title_request, text("Opening hours question"))
    fake.when(lambda r: "Classify" in r.instructions, structured({"category": "general"}))
    with Conversation(kithost.url, client_secret(admin, workflow_id)) as chat:
        first = chat.start("When do you open on Sundays?")
        second = chat.reply(first.thread_id, "And on Mondays?")

    [updated] = first.of_type("thread.updated")
    assert updated["thread"]["title"] == "Opening hours question"
    assert second.of_type("thread.updated") == []
    assert admin.beta.chatkit.threads.retrieve(first.thread_id).title == "Opening hours question"
    [title_request] = [request for request in fake.requests if is_title_request(request)]
    assert title_request.model == "gpt-4.1-mini"  # the export's first agent's model
    assert title_request.last_user_text == "When do you open on Sundays?"


def test_no_title_when_titling_is_disabled(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.when(is_title_request, text("Opening hours question"))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT, titling=False)) as chat:
        stream = chat.start("When do you open on Sundays?")
    assert stream.errors == []
    assert stream.of_type("thread.updated") == []
    assert admin.beta.chatkit.threads.retrieve(stream.thread_id).title is None
    assert len(workflow_requests(fake.requests)) == len(fake.requests) == 1
