"""Agent Builder exports, copied unmodified, answering real ChatKit turns on both model APIs.

kithost serves the two fixture exports against the fake model provider: faq_bot streams its
answer; support_triage branches on its classifier's JSON, which never reaches the chat; every
agent sees the earlier turns (an export alone passes only the current message); and on the
Chat Completions path the bridge's two bugs (``__fake_id__`` item ids, a crash on the second
turn) are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.support.chatkit_stream import Conversation, Stream, client_secret
from tests.support.fake_model import FakeModelServer, ModelRequest, Reply, structured, text
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    EXPORT_NAMES,
    EXPORTS,
    FAQ_BOT,
    SUPPORT_TRIAGE,
    ModelApi,
    admin_client,
    copy_fixture_exports,
    is_title_request,
    kithost_env,
    serving,
    workflow_requests,
)

BILLING_ANSWER = "I see two charges; I can open a refund request for the second one."
GENERAL_ANSWER = "Our 5G coverage includes your area."


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"exports-{api}")
    folder = workdir / "workflows"
    copy_fixture_exports(folder)
    with serving(database_url, workdir, kithost_env(fake.base_url, api, folder)) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _script(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("Thread title"))


def wire_api(api: ModelApi) -> str:
    return "chat" if api == "chat_completions" else "responses"


def conversation(kithost: KithostProcess, admin: openai.OpenAI, workflow_id: str) -> Conversation:
    return Conversation(kithost.url, client_secret(admin, workflow_id))


def stored_items(admin: openai.OpenAI, thread_id: str) -> list[dict[str, Any]]:
    """The thread's items as the REST API gives them, oldest first."""
    page = admin.beta.chatkit.threads.list_items(thread_id, order="asc", limit=100)
    return [item.model_dump() for item in page.data]


def dialogue(request: ModelRequest) -> list[tuple[str, str]]:
    """The user and assistant turns a model request carried (no system prompt)."""
    return [(role, said) for role, said in request.transcript if role in ("user", "assistant")]


def is_classifier(request: ModelRequest) -> bool:
    return "Classify" in request.instructions


def triage_script(fake: FakeModelServer, category: str) -> None:
    fake.when(is_classifier, structured({"category": category}))
    fake.when(lambda r: "billing desk" in r.instructions, text(BILLING_ANSWER))
    fake.when(lambda r: "front desk" in r.instructions, text(GENERAL_ANSWER))


def assert_answered(stream: Stream, answer: str) -> None:
    assert stream.errors == []
    assert stream.answer == answer


def test_faq_bot_streams_its_answer(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, api: ModelApi
) -> None:
    answer = "We open at 7am, Tuesday to Sunday, at 12 Quay Street."
    fake.push(text(answer))
    with conversation(kithost, admin, FAQ_BOT) as chat:
        stream = chat.start("When do you open?")

    assert_answered(stream, answer)
    # Streamed word by word, as the model produced it: added, deltas, done.
    assert "".join(stream.deltas) == answer
    assert len(stream.deltas) == len(answer.split())
    kinds = stream.types
    done = max(i for i, event in enumerate(stream.events) if event["type"] == "thread.item.done")
    assert kinds.index("thread.item.added") < kinds.index("thread.item.updated") < done

    [request] = workflow_requests(fake.requests)
    assert request.api == wire_api(api)
    assert request.stream
    assert request.model == "gpt-4.1-mini"
    assert "Harbor Lights bakery" in request.instructions
    assert dialogue(request) == [("user", "When do you open?")]

    items = stored_items(admin, stream.thread_id)
    assert [item["type"] for item in items] == ["chatkit.user_message", "chatkit.assistant_message"]
    assert items[1]["content"][0]["text"] == answer


@pytest.mark.parametrize(
    ("category", "answer", "desk"),
    [("billing", BILLING_ANSWER, "billing desk"), ("general", GENERAL_ANSWER, "front desk")],
)
def test_triage_branch_follows_the_classifier(
    kithost: KithostProcess,
    admin: openai.OpenAI,
    fake: FakeModelServer,
    category: str,
    answer: str,
    desk: str,
) -> None:
    triage_script(fake, category)
    with conversation(kithost, admin, SUPPORT_TRIAGE) as chat:
        stream = chat.start("I was charged twice on my last invoice")

    assert_answered(stream, answer)
    classifier, answering = workflow_requests(fake.requests)
    # The classifier runs without streaming and asks for the export's schema...
    assert is_classifier(classifier)
    assert not classifier.stream
    assert classifier.output_schema is not None
    assert "category" in classifier.output_schema["properties"]
    # ...and only the branch it chose answers, streamed.
    assert desk in answering.instructions
    assert answering.stream
    assert answering.output_schema is None
    assert answering.model == "gpt-4.1"


def test_classifier_json_never_reaches_the_chat(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    triage_script(fake, "billing")
    with conversation(kithost, admin, SUPPORT_TRIAGE) as chat:
        first = chat.start("Why is my bill higher this month?")
        second = chat.reply(first.thread_id, "And the refund?")

    assert first.answer == second.answer == BILLING_ANSWER
    for stream in (first, second):
        assert b"category" not in stream.raw
        assert len(stream.done_items("assistant_message")) == 1
    items = stored_items(admin, first.thread_id)
    assert [item["type"] for item in items] == [
        "chatkit.user_message",
        "chatkit.assistant_message",
    ] * 2
    assert not any("category" in str(item) for item in items)
    # The export itself did see it: the answering agent got the classifier's turn as input.
    answering = [r for r in workflow_requests(fake.requests) if not is_classifier(r)]
    assert ("assistant", '{"category": "billing"}') in answering[0].transcript


def remembers(expected: list[tuple[str, str]]) -> Callable[[ModelRequest], Reply]:
    """A reply that says whether the request carried exactly the ``expected`` dialogue."""

    def reply(request: ModelRequest) -> Reply:
        said = dialogue(request)
        return text("I remember all of it." if said == expected else f"I forgot: {said}")

    return reply


def test_third_turn_sees_the_earlier_turns(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    earlier = [
        ("user", "Do you sell rye?"),
        ("assistant", "Only sourdough, rye included."),
        ("user", "Where are you?"),
        ("assistant", "12 Quay Street."),
    ]
    fake.push(text(earlier[1][1]), text(earlier[3][1]))
    fake.push(remembers([*earlier, ("user", "What did I ask first?")]))
    with conversation(kithost, admin, FAQ_BOT) as chat:
        first = chat.start(earlier[0][1])
        second = chat.reply(first.thread_id, earlier[2][1])
        third = chat.reply(first.thread_id, "What did I ask first?")

    assert [first.answer, second.answer] == [earlier[1][1], earlier[3][1]]
    assert_answered(third, "I remember all of it.")
    requests = workflow_requests(fake.requests)
    assert [len(dialogue(request)) for request in requests] == [1, 3, 5]


def test_triage_agents_see_the_earlier_turns(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    triage_script(fake, "billing")
    with conversation(kithost, admin, SUPPORT_TRIAGE) as chat:
        first = chat.start("My card was declined")
        second = chat.reply(first.thread_id, "Can I pay by bank transfer instead?")

    assert second.answer == BILLING_ANSWER
    earlier = [("user", "My card was declined"), ("assistant", BILLING_ANSWER)]
    classifier, answering = workflow_requests(fake.requests)[2:]
    assert dialogue(classifier) == [*earlier, ("user", "Can I pay by bank transfer instead?")]
    assert dialogue(answering)[:3] == dialogue(classifier)


@pytest.mark.parametrize("workflow_id", EXPORTS, ids=EXPORT_NAMES)
def test_every_item_has_its_own_id_across_turns(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, workflow_id: str
) -> None:
    """chatkit-python#36: on Chat Completions every assistant item was ``__fake_id__``, so
    each answer overwrote the last; and the second turn crashed on ``output_text`` history."""
    triage_script(fake, "general")
    if workflow_id == FAQ_BOT:
        fake.push(text("First answer."), text("Second answer."), text("Third answer."))
    with conversation(kithost, admin, workflow_id) as chat:
        streams = [chat.start("One")]
        streams += [chat.reply(streams[0].thread_id, message) for message in ("Two", "Three")]

    for stream in streams:
        assert stream.errors == []
        assert b"__fake_id__" not in stream.raw
        added = {event["item"]["id"] for event in stream.of_type("thread.item.added")}
        updated = {event["item_id"] for event in stream.of_type("thread.item.updated")}
        assert updated <= added
    expected = (
        ["First answer.", "Second answer.", "Third answer."]
        if workflow_id == FAQ_BOT
        else [GENERAL_ANSWER] * 3
    )
    assert [stream.answer for stream in streams] == expected
    answer_ids = [stream.done_items("assistant_message")[0]["id"] for stream in streams]
    assert all(item_id.startswith("cti_") for item_id in answer_ids)
    assert len(set(answer_ids)) == 3

    items = stored_items(admin, streams[0].thread_id)
    assert len(items) == 6
    assert len({item["id"] for item in items}) == 6
    assert [item["id"] for item in items[1::2]] == answer_ids
    assert [item["content"][0]["text"] for item in items[1::2]] == expected
