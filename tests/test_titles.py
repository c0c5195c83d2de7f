"""Automatic titles, written by the workflow's model while the first answer streams.

The title request and the answer's request race on the fake model; gates (``Reply.held``)
decide which finishes first, so the tests assert on the order of events and requests, never on
timings. Both model APIs, both databases.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.support.chatkit_stream import Conversation, client_secret, first_delta
from tests.support.fake_model import (
    FakeModelServer,
    Gate,
    ModelRequest,
    Reply,
    endless,
    error,
    is_title_request,
    text,
)
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    FAQ_BOT,
    ModelApi,
    admin_client,
    copy_fixture_exports,
    kithost_env,
    serving,
    wait_until,
)

# A model call that never comes back fails the turn after this many seconds (not the test).
MODEL_TIMEOUT_SECONDS = "10"
QUESTION = "When do you open on Sundays?\nAnd are you open late?"
FIRST_LINE = "When do you open on Sundays?"


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"titles-{api}")
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


def title_requests(fake: FakeModelServer) -> list[ModelRequest]:
    return [request for request in fake.requests if is_title_request(request)]


def title_of(admin: openai.OpenAI, thread_id: str) -> str | None:
    return admin.beta.chatkit.threads.retrieve(thread_id).title


def test_the_title_is_written_while_the_answer_streams(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    # The answer is held until the title request has arrived: were the title asked after the
    # answer, as it used to be, the answer would never come and the turn would fail.
    title_asked = Gate()

    def title(request: ModelRequest) -> Reply:
        title_asked.open()
        return text("Sunday opening hours")

    fake.set_title(title)
    fake.push(text("We open at 10 on Sundays.").held(title_asked))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT)) as chat:
        stream = chat.start(QUESTION)

    assert stream.errors == []
    assert stream.answer == "We open at 10 on Sundays."
    [updated] = stream.of_type("thread.updated")
    assert updated["thread"]["title"] == "Sunday opening hours"
    # The title arrives with the answer's end: after the answer, in the same stream.
    assert stream.types.index("thread.updated") > stream.types.index("thread.item.done")
    assert title_of(admin, stream.thread_id) == "Sunday opening hours"
    [asked] = title_requests(fake)
    assert asked.last_user_text == QUESTION
    assert asked.model == "gpt-4.1-mini"  # the export's first agent's model


def test_a_title_slower_than_the_answer_does_not_hold_the_stream_and_is_saved_later(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    slow = Gate()
    fake.set_title(text("Sunday opening hours").held(slow))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT)) as chat:
        first = chat.start(QUESTION)
        # The stream ended while the title was still being written (its request is held).
        [asked] = title_requests(fake)
        assert asked.outcome == "pending"
        assert first.errors == []
        assert first.of_type("thread.updated") == []
        assert title_of(admin, first.thread_id) is None

        # A second turn meanwhile asks for no other title.
        second = chat.reply(first.thread_id, "And on Mondays?")
        assert second.errors == []
        assert second.of_type("thread.updated") == []
        assert len(title_requests(fake)) == 1

    slow.open()
    assert asked.wait_done() == "completed"
    wait_until(lambda: title_of(admin, first.thread_id) is not None)
    assert title_of(admin, first.thread_id) == "Sunday opening hours"
    listed = admin.beta.chatkit.threads.list(user="workflow-tests", limit=5)
    assert {thread.id: thread.title for thread in listed.data}[first.thread_id] == (
        "Sunday opening hours"
    )


@pytest.mark.parametrize("late", [False, True], ids=["in_time", "late"])
def test_a_failed_title_gives_the_first_line(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, late: bool
) -> None:
    failure = error(400, "No titles today.")
    gate = Gate()
    fake.set_title(failure.held(gate) if late else failure)
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT)) as chat:
        stream = chat.start(QUESTION)
    assert stream.errors == []  # a title is a nicety: its failure is not the user's concern
    assert stream.answer == QUESTION  # the fake's echo
    if late:
        assert stream.of_type("thread.updated") == []
        gate.open()
        wait_until(lambda: title_of(admin, stream.thread_id) is not None)
    else:
        [updated] = stream.of_type("thread.updated")
        assert updated["thread"]["title"] == FIRST_LINE
    assert title_of(admin, stream.thread_id) == FIRST_LINE
    [asked] = title_requests(fake)
    assert asked.wait_done() == "error"


def test_stop_during_the_first_exchange_titles_with_the_first_line(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.set_title(text("Never written").held(Gate()))
    fake.push(endless("and more ", token_interval=0.05))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT)) as chat:
        stopped = chat.start(QUESTION, stop_when=first_delta)
    assert stopped.stopped
    wait_until(lambda: title_of(admin, stopped.thread_id) is not None)
    assert title_of(admin, stopped.thread_id) == FIRST_LINE
    # The title's model call was abandoned with the answer's, not left running.
    [asked] = title_requests(fake)
    assert asked.wait_done(timeout=10) == "disconnected"


def test_a_failed_answer_leaves_no_title_and_no_title_request_running(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    title_asked = Gate()

    def title(request: ModelRequest) -> Reply:
        title_asked.open()
        return text("Never written").held(Gate())

    fake.set_title(title)
    # The answer fails once the title is being written (not retried: a 400).
    fake.push(error(400, "The answer failed.").held(title_asked))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT)) as chat:
        stream = chat.start(QUESTION)
    [failure] = stream.errors
    assert "HTTP 400" in failure["message"]
    assert stream.of_type("thread.updated") == []
    [asked] = title_requests(fake)
    assert asked.wait_done(timeout=10) == "disconnected"
    assert title_of(admin, stream.thread_id) is None
