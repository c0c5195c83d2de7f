"""Agent Builder exports as people wrote them, each answering two turns over the ChatKit protocol.

The exports in ``tests/exports`` use the patterns real exports use: variable classes passed as
``context=`` (instructions functions and tools read them), PEP 701 f-strings, ``Runner.
run_streamed``, ``Runner.run_sync`` from worker threads, ``print``, return values that are not
``{"output_text": …}``, and a bug of their own. Every one runs unmodified against the fake model on
both model APIs and both databases; the tests check what the model received (instructions built
from the context, the current turn's attachments, the earlier turns) and what the chat shows.
Failures carry ``allow_retry`` as retrying deserves, and no secret reaches the chat or the log.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import HostedMCPTool
from agents.exceptions import UserError
from agents.models.chatcmpl_converter import Converter

from kithost.workflows.failures import classify_failure
from kithost.workflows.hosted import UnsupportedHostedTool
from tests.support.chatkit_client import ChatFactory, ChatKitClient, StreamResult
from tests.support.fake_model import (
    FakeModelServer,
    ModelRequest,
    Reply,
    error,
    structured,
    text,
    tool_call,
)
from tests.support.import_sources import PDF, HistoryBuilder, png
from tests.support.process import KithostProcess
from tests.support.seeding import make_thread, seed
from tests.support.workflow_files import (
    ModelApi,
    is_title_request,
    kithost_env,
    serving,
    workflow_requests,
)

EXPORTS_DIR = Path(__file__).parent / "exports"
CONTEXT = "wf_5be66870cabad67a9a0927d3489fcd4e5dcf4e5cdc149009"
PEP701 = "wf_35e74e49f4ee1228b95b49d240f90b6198677a71bfa1ed03"
RETURNS_DICT = "wf_252410f3117a94b43c907e94905200d4a6cf58311c3d0aca"
RETURNS_MODEL = "wf_0d722d3a4d4be37b8d7aeb9f0363fdf0ea7b0f13fd16b861"
PRINTS = "wf_5b24b4ceae9d4eb3838c0c6884723647180b01e1d8e2999b"
STREAMED = "wf_52386c9b4cdc065bb7fb5779f3ffeaaa9af46615c6e19693"
RUN_SYNC = "wf_fade0c0032092750b0464887fc9f1e481d9fdb6666ff43af"
RAISES = "wf_7794cf38536f6dc5d7c127c45438634d306967027a036506"
FIXTURES = {
    "context_classes.py": CONTEXT,
    "pep701_fstrings.py": PEP701,
    "returns_dict.py": RETURNS_DICT,
    "returns_model.py": RETURNS_MODEL,
    "prints.py": PRINTS,
    "run_streamed.py": STREAMED,
    "run_sync_thread.py": RUN_SYNC,
    "raises.py": RAISES,
}
# Recognisable secrets: the provider key, and the authorization of raises.py's HostedMCPTool.
PROVIDER_KEY = "sk-provider-7d41c0ffee5eed1e"
MCP_SECRET = "mcp-secret-0f5e2c7b9a1d4e8f"
UPLOADS = {"file_upload": {"enabled": True}}


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"patterns-{api}")
    folder = workdir / "workflows"
    folder.mkdir()
    for name in FIXTURES:
        shutil.copyfile(EXPORTS_DIR / name, folder / name)
    env = kithost_env(
        fake.base_url, api, folder, OPENAI_API_KEY=PROVIDER_KEY, KITHOST_LOG_LEVEL="info"
    )
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def chats(kithost: KithostProcess) -> Iterator[ChatFactory]:
    with ChatFactory(kithost.url) as factory:
        yield factory


@pytest.fixture(autouse=True)
def _script(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("A title"))


def answered(stream: StreamResult) -> str:
    """The one answer of a turn that went well."""
    assert stream.status_code == 200, stream.body
    assert stream.of_type("error") == [], stream.of_type("error")
    [answer] = stream.done_items("assistant_message")
    return "".join(part["text"] for part in answer["content"])


def two_turns(client: ChatKitClient, first: str, second: str) -> tuple[StreamResult, StreamResult]:
    one = client.create_thread(first)
    two = client.add_message(one.thread_id, second)
    return one, two


def dialogue(request: ModelRequest) -> list[tuple[str, str]]:
    return [(role, said) for role, said in request.transcript if role in ("user", "assistant")]


def shown(client: ChatKitClient, thread_id: str) -> list[tuple[str, str]]:
    """The thread as the chat shows it after a reload: (item type, text)."""
    items = client.list_items(thread_id, order="asc")["data"]
    return [
        (item["type"], "".join(part.get("text", "") for part in item.get("content", [])))
        for item in items
    ]


def server_log(kithost: KithostProcess) -> str:
    return kithost.log_path.read_text(encoding="utf-8", errors="replace")


def user_parts(request: ModelRequest) -> list[list[dict[str, Any]]]:
    """The content parts of each user message a request carried (either API's shape)."""
    items = request.body["messages"] if request.api == "chat" else request.body["input"]
    return [
        item["content"] if isinstance(item["content"], list) else [{"text": item["content"]}]
        for item in items
        if isinstance(item, dict) and item.get("role") == "user"
    ]


def image_urls(parts: list[dict[str, Any]]) -> list[str]:
    urls = []
    for part in parts:
        if part.get("type") == "image_url":  # Chat Completions
            urls.append(part["image_url"]["url"])
        elif part.get("type") == "input_image":  # Responses
            urls.append(part["image_url"])
    return urls


def texts(parts: list[dict[str, Any]]) -> list[str]:
    return [str(part["text"]) for part in parts if "text" in part]


# --- context= ---------------------------------------------------------------------------------


def branch_finder(request: ModelRequest) -> Reply:
    """Calls find_branch first, then answers with what the tool said."""
    results = [said for role, said in request.transcript if role == "tool"]
    if not results:
        return tool_call("find_branch", {})
    return text(f"Good news: {results[-1]}")


def test_context_reaches_instructions_and_tools(chats: ChatFactory, fake: FakeModelServer) -> None:
    fake.when(lambda r: "Extract the city" in r.instructions, structured({"city": "Galway"}))
    fake.when(lambda r: "Harbor Lights bakery in" in r.instructions, branch_finder)
    client = chats.open(workflow=CONTEXT)
    first, second = two_turns(client, "Is the Galway shop open early?", "And on Sundays?")

    tool_said = "The Galway branch opens at 7am (asked: Is the Galway shop open early?)"
    assert answered(first) == f"Good news: {tool_said}"
    assert answered(second) == "Good news: The Galway branch opens at 7am (asked: And on Sundays?)"

    extract, call, answer, *later = workflow_requests(fake.requests)
    # The instructions functions read the export's own context objects.
    assert extract.instructions == (
        "Extract the city the customer is asking about from this message: "
        "Is the Galway shop open early?"
    )
    assert "bakery in Galway" in call.instructions
    assert "The customer wrote: Is the Galway shop open early?" in call.instructions
    assert call.tool_names == ["find_branch"]
    # The tool read the context too: its result is what the model got back.
    assert ("tool", tool_said) in answer.transcript
    # Second turn: the context is built from the new message; the first turn is history.
    extract_2, call_2, _ = later
    assert extract_2.instructions.endswith("from this message: And on Sundays?")
    assert "The customer wrote: And on Sundays?" in call_2.instructions
    assert dialogue(call_2)[:3] == [
        ("user", "Is the Galway shop open early?"),
        ("assistant", f"Good news: {tool_said}"),
        ("user", "And on Sundays?"),
    ]
    assert [kind for kind, _ in shown(client, first.thread_id)] == [
        "user_message",
        "assistant_message",
    ] * 2


# --- PEP 701 and attachments ----------------------------------------------------------------


def test_pep701_fstrings_parse_and_answer(chats: ChatFactory, fake: FakeModelServer) -> None:
    fake.push(text("7 x 8 is 56."), text("Then 56 + 4 is 60."))
    client = chats.open(workflow=PEP701)
    first, second = two_turns(client, "What is 7 x 8?", "And plus 4?")

    assert answered(first) == "7 x 8 is 56."
    assert answered(second) == "Then 56 + 4 is 60."
    one, two = workflow_requests(fake.requests)
    # The export's f"Question ({state["subject"]}): {workflow["input_as_text"]}".
    assert dialogue(one) == [("user", "Question (maths): What is 7 x 8?")]
    assert dialogue(two) == [
        ("user", "What is 7 x 8?"),  # the thread's history keeps what the user typed
        ("assistant", "7 x 8 is 56."),
        ("user", "Question (maths): And plus 4?"),
    ]


def test_current_turn_attachments_reach_the_model(
    chats: ChatFactory, fake: FakeModelServer, api: ModelApi
) -> None:
    fake.push(text("A cat, a scan and a list."), text("Still a cat."))
    client = chats.open(workflow=PEP701, chatkit_configuration=UPLOADS)
    photo = client.upload("cat.png", png(2, 2, 7), "image/png").json()
    scan = client.upload("scan.pdf", PDF, "application/pdf").json()
    notes = client.upload("notes.txt", b"eggs, flour, butter", "text/plain").json()
    first = client.create_thread("What did I attach?", [photo["id"], scan["id"], notes["id"]])
    second = client.add_message(first.thread_id, "Anything else?")

    assert answered(first) == "A cat, a scan and a list."
    assert answered(second) == "Still a cat."
    one, two = workflow_requests(fake.requests)
    [current] = user_parts(one)
    # The export built its message from input_as_text alone; the attachments joined it.
    assert texts(current)[0] == "Question (maths): What did I attach?"
    [image] = image_urls(current)
    assert image.startswith("data:image/png;base64,")
    assert "Attached file notes.txt:\neggs, flour, butter" in texts(current)
    files = [part for part in current if part.get("type") in ("file", "input_file")]
    if api == "chat_completions":
        # A compatible server takes no PDF: a note names it instead.
        assert files == []
        [note] = [said for said in texts(current) if "scan.pdf" in said]
        assert "application/pdf" in note
    else:
        [pdf] = files
        assert pdf["filename"] == "scan.pdf"
        assert pdf["file_data"].startswith("data:application/pdf;base64,")
    # Next turn: the attachments are history; the new message has none.
    earlier, now = user_parts(two)
    assert image_urls(earlier) == [image]
    assert image_urls(now) == []
    assert texts(now) == ["Question (maths): Anything else?"]


def test_imported_attachments_without_bytes_do_not_fail_the_next_turn(
    kithost: KithostProcess, chats: ChatFactory, fake: FakeModelServer
) -> None:
    """A thread imported from hosted ChatKit keeps attachment metadata whose bytes never came."""
    client = chats.open(workflow=PEP701)
    thread = make_thread(client.user, created_at=time.time() - 3600, title="Imported")
    history = HistoryBuilder(thread.id, thread.created_at)
    gone = [
        {
            "type": "image",
            "id": "atc_0000000100000000000000000000000000000000000000aa",
            "name": "gone.png",
            "mime_type": "image/png",
            "preview_url": "https://files.example.invalid/gone.png",
        },
        {
            "type": "file",
            "id": "atc_0000000100000000000000000000000000000000000000bb",
            "name": "report.pdf",
            "mime_type": "application/pdf",
        },
    ]
    history.user("Here is my photo and report", attachments=gone)
    history.assistant("Thanks, got them.")
    seed(kithost.database_url, [(thread, history.items)])
    fake.push(text("I can only see their names."), text("Still only names."))

    second = client.add_message(thread.id, "Can you see them?")
    third = client.add_message(thread.id, "Really?")

    assert answered(second) == "I can only see their names."
    assert answered(third) == "Still only names."
    for request in workflow_requests(fake.requests):
        imported = user_parts(request)[0]
        assert texts(imported) == [
            "Here is my photo and report",
            "[Attached file gone.png (image/png) is not available.]",
            "[Attached file report.pdf (application/pdf) is not available.]",
        ]
        assert image_urls(imported) == []


# --- what an export returns -------------------------------------------------------------------


def test_a_returned_dict_is_shown_as_json(chats: ChatFactory, fake: FakeModelServer) -> None:
    fake.push(
        structured({"summary": "Oven door broken", "priority": "high"}),
        structured({"summary": "Asks for an update", "priority": "normal"}),
    )
    client = chats.open(workflow=RETURNS_DICT)
    first, second = two_turns(client, "The oven door broke!", "Any news?")

    ticket = {"ticket": {"summary": "Oven door broken", "priority": "high"}, "queue": "support"}
    assert json.loads(answered(first)) == ticket
    assert json.loads(answered(second))["ticket"]["priority"] == "normal"
    _, later = workflow_requests(fake.requests)
    assert dialogue(later) == [
        ("user", "The oven door broke!"),
        ("assistant", answered(first)),
        ("user", "Any news?"),
    ]


def test_a_returned_model_is_shown_as_json(chats: ChatFactory, fake: FakeModelServer) -> None:
    fake.push(
        structured({"dish": "Soda bread", "minutes": 45}),
        structured({"dish": "Scones", "minutes": 25}),
    )
    client = chats.open(workflow=RETURNS_MODEL)
    first, second = two_turns(client, "I have buttermilk", "Something quicker?")

    assert json.loads(answered(first)) == {"dish": "Soda bread", "minutes": 45}
    assert json.loads(answered(second)) == {"dish": "Scones", "minutes": 25}
    _, later = workflow_requests(fake.requests)
    assert dialogue(later)[0] == ("user", "I have buttermilk")
    assert dialogue(later)[-1] == ("user", "Something quicker?")
    assert shown(client, first.thread_id)[1] == ("assistant_message", answered(first))


# --- print, run_streamed, run_sync ------------------------------------------------------------


def test_prints_go_to_the_operator_log(
    kithost: KithostProcess, chats: ChatFactory, fake: FakeModelServer
) -> None:
    fake.push(text("Welcome to Harbor Lights!"), text("Lovely to see you again!"))
    client = chats.open(workflow=PRINTS)
    first, second = two_turns(client, "Hello there", "Hello again")

    assert answered(first) == "Welcome to Harbor Lights!"
    assert answered(second) == "Lovely to see you again!"
    log = server_log(kithost)
    said = f"workflow {PRINTS} printed:"
    assert f"{said} loading the greeter export" in log  # at import
    assert f"{said} workflow input: {{'input_as_text': 'Hello there'}}" in log
    assert f"{said} greeter answered: Welcome to Harbor Lights!" in log  # file=sys.stderr
    assert f"{said} RunResult" in log  # print(result): the SDK's own summary
    for stream in (first, second):
        assert b"workflow input" not in stream.raw
        assert b"RunResult" not in stream.raw


def test_run_streamed_streams_into_the_chat_and_to_the_export(
    kithost: KithostProcess, chats: ChatFactory, fake: FakeModelServer
) -> None:
    story = "Once upon a time, a small loaf fell asleep."
    fake.push(text(story), text("The loaf woke up rested."))
    client = chats.open(workflow=STREAMED)
    first, second = two_turns(client, "Tell me a story", "What happened next?")

    # The export returns None after streaming: the chat shows the streamed answer, once.
    assert answered(first) == story
    assert first.deltas() == story
    assert answered(second) == "The loaf woke up rested."
    # The export read every event itself, then the final output.
    words = len(story.split())
    log = server_log(kithost)
    assert f"printed: streamed {words} deltas: {story} | final: {story}" in log
    _, later = workflow_requests(fake.requests)
    assert later.stream
    assert dialogue(later) == [
        ("user", "Tell me a story"),
        ("assistant", story),
        ("user", "What happened next?"),
    ]


def test_run_sync_from_worker_threads(chats: ChatFactory, fake: FakeModelServer) -> None:
    fake.when(lambda r: "Detect the language" in r.instructions, structured({"language": "fr"}))
    fake.push(text("Bonjour ! Le pain est prêt."), text("À demain !"))
    client = chats.open(workflow=RUN_SYNC)
    first, second = two_turns(client, "Bonjour, le pain est prêt ?", "Merci, au revoir")

    assert answered(first) == "Bonjour ! Le pain est prêt."
    assert answered(second) == "À demain !"
    detect, answer, detect_2, answer_2 = workflow_requests(fake.requests)
    assert not detect.stream  # structured, from run_in_executor
    assert answer.stream  # visible, from asyncio.to_thread
    assert ("assistant", '{"language": "fr"}') in answer.transcript
    assert dialogue(detect_2)[:2] == [
        ("user", "Bonjour, le pain est prêt ?"),
        ("assistant", "Bonjour ! Le pain est prêt."),
    ]
    assert dialogue(answer_2)[-2:] == [
        ("user", "Merci, au revoir"),
        ("assistant", '{"language": "fr"}'),
    ]


# --- failures ---------------------------------------------------------------------------------


def line_of(name: str, needle: str) -> int:
    lines = (EXPORTS_DIR / name).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def test_an_export_bug_is_not_retryable_and_the_thread_goes_on(
    kithost: KithostProcess, chats: ChatFactory, fake: FakeModelServer
) -> None:
    fake.push(text("We open at 7am."))
    client = chats.open(workflow=RAISES)
    failed, after = two_turns(client, "Please check my CRM record", "When do you open?")

    [failure] = failed.of_type("error")
    assert failure["message"] == "The workflow failed (ValueError)."
    assert failure["allow_retry"] is False
    assert failed.done_items("assistant_message") == []
    assert answered(after) == "We open at 7am."
    [request] = workflow_requests(fake.requests)
    assert dialogue(request) == [
        ("user", "Please check my CRM record"),
        ("user", "When do you open?"),
    ]
    # The operator's log names the file, the line and the cause, once, without the tool's
    # configuration (the ValueError's message is the HostedMCPTool's whole repr).
    log = server_log(kithost)
    line = line_of("raises.py", "KNOWN_LABELS.index(crm)")
    # The workflow's own line (the run's end has a line of its own, which names no error).
    [entry] = [row for row in log.splitlines() if f"failed on thread {failed.thread_id}" in row]
    assert f"raises.py:{line}: ValueError: HostedMCPTool is not in list" in entry
    for secret in (MCP_SECRET, "crm.example.invalid", "Traceback"):
        assert secret not in log
        assert secret.encode() not in failed.raw


PROVIDER_FAILURES = {
    "unauthorized": (401, False, "refused kithost's API key"),
    "unknown_model": (404, False, "does not know the requested model"),
    "rate_limited": (429, True, "rate-limiting"),
    "unavailable": (503, True, "(HTTP 503)"),
}


@pytest.mark.parametrize("kind", PROVIDER_FAILURES)
def test_provider_failures_say_whether_to_retry_and_never_echo_the_key(
    kithost: KithostProcess, chats: ChatFactory, fake: FakeModelServer, kind: str
) -> None:
    status, retry, said = PROVIDER_FAILURES[kind]
    echo = f"Incorrect API key provided: {PROVIDER_KEY} (Bearer {PROVIDER_KEY})"
    fake.when(lambda r: not is_title_request(r), error(status, echo, headers={"retry-after": "0"}))
    client = chats.open(workflow=PRINTS)
    stream = client.create_thread(f"Hello ({kind})")

    [failure] = stream.of_type("error")
    assert said in failure["message"]
    assert failure["allow_retry"] is retry
    assert PROVIDER_KEY.encode() not in stream.raw
    log = server_log(kithost)
    assert f"Error code: {status}" in log
    assert PROVIDER_KEY not in log


def test_sdk_hosted_tool_errors_lose_the_tool_configuration() -> None:
    """The SDK's own message for a hosted tool on Chat Completions quotes the tool's repr."""
    tool = HostedMCPTool(
        tool_config={
            "type": "mcp",
            "server_label": "crm",
            "server_url": "https://crm.example.invalid/mcp",
            "authorization": MCP_SECRET,
            "headers": {"X-Api-Key": "header-secret-1234"},
            "require_approval": "never",
        }
    )
    with pytest.raises(UserError) as raised:
        Converter.tool_to_openai(tool)
    assert MCP_SECRET in str(raised.value)  # what the SDK says, before kithost

    failure = classify_failure(raised.value)
    assert failure.allow_retry is False
    for output in (failure.message, failure.log_line):
        assert "HostedMCPTool" in output
        for secret in (MCP_SECRET, "header-secret-1234", "crm.example.invalid", "tool_config"):
            assert secret not in output
    assert classify_failure(UnsupportedHostedTool(tool)).allow_retry is False
