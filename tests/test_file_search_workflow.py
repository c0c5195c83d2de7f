"""``FileSearchTool`` in Agent Builder exports (and ``file_search:`` in YAML), off OpenAI.

A real kithost with an embedding model (the fake's ``/v1/embeddings``) holds a vector store of
real files, uploaded with the official SDK. The export names the store; on Chat Completions
kithost runs the tool itself under the hosted tool's name: the fake model calls
``file_search``, the passages reach the model as the tool's result with their file names, and
the answer shows the files as ``FileSource`` annotations quoting the passage (in the stream, on
the stored item, in the REST view). The export's ``max_num_results`` and ``filters`` hold; a
store that is not here is said to the model, and the turn goes on.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import ConsoleUser, PageProblems, chromium
from tests.support.chatkit_stream import Conversation, Stream, client_secret
from tests.support.documents import filler
from tests.support.fake_model import FakeModelServer, ModelRequest, Reply, text, tool_call
from tests.support.hosted_exports import hosted_export
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.workflow_files import (
    admin_client,
    control_get,
    is_title_request,
    kithost_env,
    serving,
    wait_until,
    workflow_requests,
    write,
)

EMBEDDING_MODEL = "text-embedding-3-small"
LIBRARIAN = "wf_file_search_librarian"
LEGAL_ONLY = "wf_file_search_legal_only"
NOWHERE = "wf_file_search_nowhere"
YAML_LIBRARIAN = "wf_yaml_librarian"
# The one passage that answers the question, in one chunk of one file among many.
PASSAGE = (
    "Parental leave at Northwind is fourteen weeks at full pay, and a further ten weeks at "
    "half pay may be taken before the child turns two."
)
QUESTION = "How long is parental leave?"
QUERY = "parental leave weeks full pay"


def export_with(workflow_id: str, tool: str) -> str:
    return hosted_export(
        workflow_id,
        "FileSearchTool",
        f"file_search = {tool}",
        "file_search",
        "You answer from the company handbook.",
    )


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("Parental leave"))


@pytest.fixture(scope="module")
def kithost(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("file-search")
    folder = workdir / "workflows"
    folder.mkdir()
    env = kithost_env(
        fake.base_url,
        "chat_completions",
        folder,
        KITHOST_EMBEDDING_MODEL=EMBEDDING_MODEL,
        KITHOST_DEMO_SIGNIN="true",  # for the chat page in Chromium
    )
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def handbook(kithost: KithostProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of twelve files (one legal, the rest filler), then the workflows that use it:
    written once the store's id is known, and loaded with SIGHUP as an operator would."""
    files = tmp_path_factory.mktemp("handbook")
    (files / "benefits.md").write_text(
        f"# Benefits\n\n{filler(900, seed=1)}\n\n{PASSAGE}\n\n{filler(900, seed=2)}\n"
    )
    (files / "contracts.txt").write_text(f"Contracts and signatures.\n{filler(400, seed=3)}\n")
    for number in range(10):
        (files / f"notes-{number}.txt").write_text(filler(500, seed=10 + number))
    with admin_client(kithost) as admin:
        store = admin.vector_stores.create(name="Handbook")
        for path in sorted(files.iterdir()):
            team = "legal" if path.name == "contracts.txt" else "people"
            with path.open("rb") as stream:
                done = admin.vector_stores.files.upload_and_poll(
                    vector_store_id=store.id, file=stream, poll_interval_ms=100
                )
            assert done.status == "completed", done.last_error
            admin.vector_stores.files.update(
                done.id, vector_store_id=store.id, attributes={"team": team}
            )
    folder = Path(kithost.environment()["KITHOST_WORKFLOWS_DIR"])
    write(
        folder,
        "librarian.py",
        export_with(LIBRARIAN, f'FileSearchTool(vector_store_ids=["{store.id}"])'),
    )
    legal = (
        f'FileSearchTool(vector_store_ids=["{store.id}"], max_num_results=2, '
        'filters={"type": "eq", "key": "team", "value": "legal"})'
    )
    write(folder, "legal.py", export_with(LEGAL_ONLY, legal))
    missing = 'FileSearchTool(vector_store_ids=["vs_0000000000000000000000000000nothere"])'
    write(folder, "nowhere.py", export_with(NOWHERE, missing))
    write(
        folder,
        "librarian.yaml",
        f"""
        id: {YAML_LIBRARIAN}
        model: gpt-4.1-mini
        instructions: You answer from the company handbook.
        file_search:
          vector_store_ids: [{store.id}]
          max_num_results: 3
        """,
    )
    assert kithost.proc is not None
    os.kill(kithost.proc.pid, signal.SIGHUP)
    wanted = {LIBRARIAN, LEGAL_ONLY, NOWHERE, YAML_LIBRARIAN}
    wait_until(
        lambda: wanted <= {w["id"] for w in control_get(kithost, "/v1/chatkit/workflows")["data"]}
    )
    return store.id


def searches_then_quotes(query: str = QUERY) -> tuple[Reply, Any]:
    """The fake model's two replies: call ``file_search``, then quote the first passage."""

    def answer(request: ModelRequest) -> Reply:
        results = tool_results(request)
        found = re.search(r"^\[1\] (\S+) \(score [0-9.]+\)\n(.+)$", results[-1], re.MULTILINE)
        if found:
            return text(f"From {found.group(1)}: {found.group(2)[:60]}")
        return text(f"I could not search: {results[-1] if results else 'no tool result'}")

    return tool_call("file_search", {"query": query}), answer


def tool_results(request: ModelRequest) -> list[str]:
    return [said for role, said in request.transcript if role == "tool"]


def turn(kithost: KithostProcess, workflow_id: str, message: str = QUESTION) -> Stream:
    with (
        admin_client(kithost) as admin,
        Conversation(kithost.url, client_secret(admin, workflow_id)) as chat,
    ):
        return chat.start(message)


def answer_sources(stream: Stream) -> list[dict[str, Any]]:
    [item] = stream.done_items("assistant_message")
    return [a["source"] for part in item["content"] for a in part["annotations"]]


def test_an_export_answers_from_the_file_with_its_source(
    kithost: KithostProcess, fake: FakeModelServer, handbook: str
) -> None:
    fake.push(*searches_then_quotes())
    stream = turn(kithost, LIBRARIAN)

    assert stream.errors == []
    calling, answering = workflow_requests([r for r in fake.requests if r.api == "chat"])
    assert "file_search" in calling.tool_names
    # The model read the one passage that answers, first, under its file's name.
    [result] = tool_results(answering)
    assert result.startswith(f'File search results for "{QUERY}":\n\n[1] benefits.md (score ')
    first = result.split("\n[2] ")[0]
    assert PASSAGE in " ".join(first.split())
    assert len(re.findall(r"^\[\d+\] ", result, re.MULTILINE)) == 10  # OpenAI's default
    assert stream.answer.startswith("From benefits.md: ")
    # The query was embedded with the configured model (hybrid search).
    embedded = [r for r in fake.requests if r.api == "embeddings"]
    assert [r.body["input"] for r in embedded] == [[QUERY]]
    assert {r.model for r in embedded} == {EMBEDDING_MODEL}

    # Every file the model read is a source of the answer, quoting its best passage.
    sources = answer_sources(stream)
    assert sources[0]["type"] == "file"
    assert (sources[0]["filename"], sources[0]["title"]) == ("benefits.md", "benefits.md")
    assert "fourteen weeks at full pay" in sources[0]["description"]
    files = {source["filename"] for source in sources}
    assert len(files) == len(sources)  # one source per file
    updates = [
        event["update"]
        for event in stream.of_type("thread.item.updated")
        if event["update"]["type"] == "assistant_message.content_part.annotation_added"
    ]
    assert [u["annotation"]["source"]["filename"] for u in updates] == [
        s["filename"] for s in sources
    ]
    # Stored with the item: the REST view names the files.
    with admin_client(kithost) as admin:
        items = admin.beta.chatkit.threads.list_items(stream.thread_id, order="asc").data
    [answer] = [i.model_dump() for i in items if i.type == "chatkit.assistant_message"]
    stored = [a for part in answer["content"] for a in part["annotations"]]
    assert stored[0] == {"type": "file", "source": {"type": "file", "filename": "benefits.md"}}
    assert len(stored) == len(sources)


def test_the_exports_filters_and_result_count_hold(
    kithost: KithostProcess, fake: FakeModelServer, handbook: str
) -> None:
    fake.push(*searches_then_quotes())
    stream = turn(kithost, LEGAL_ONLY)

    assert stream.errors == []
    [result] = tool_results(workflow_requests([r for r in fake.requests if r.api == "chat"])[1])
    # Only the file whose attributes pass {"team": "legal"}, at most two passages.
    assert re.findall(r"^\[\d+\] (\S+) ", result, re.MULTILINE) in (
        ["contracts.txt"],
        ["contracts.txt", "contracts.txt"],
    )
    assert "fourteen weeks" not in result
    assert [s["filename"] for s in answer_sources(stream)] == ["contracts.txt"]


def test_a_store_that_is_not_here_is_told_to_the_model(
    kithost: KithostProcess, fake: FakeModelServer, handbook: str
) -> None:
    fake.push(*searches_then_quotes())
    stream = turn(kithost, NOWHERE)

    assert stream.errors == []
    [result] = tool_results(workflow_requests([r for r in fake.requests if r.api == "chat"])[1])
    assert result.startswith("File search failed: ")
    assert "vs_0000000000000000000000000000nothere" in result
    assert stream.answer.startswith("I could not search: File search failed")
    assert answer_sources(stream) == []
    log = kithost.log_path.read_text(errors="replace")
    assert "file search in vs_0000000000000000000000000000nothere failed" in log


def test_a_yaml_workflow_searches_its_stores(
    kithost: KithostProcess, fake: FakeModelServer, handbook: str
) -> None:
    fake.push(*searches_then_quotes())
    stream = turn(kithost, YAML_LIBRARIAN)

    assert stream.errors == []
    calling, answering = workflow_requests([r for r in fake.requests if r.api == "chat"])
    assert calling.tool_names == ["file_search"]
    [result] = tool_results(answering)
    assert len(re.findall(r"^\[\d+\] ", result, re.MULTILINE)) == 3  # max_num_results: 3
    assert stream.answer.startswith("From benefits.md: ")
    assert answer_sources(stream)[0]["filename"] == "benefits.md"
    listed = {w["id"]: w for w in control_get(kithost, "/v1/chatkit/workflows")["data"]}
    [finding] = [
        r for r in listed[YAML_LIBRARIAN]["requirements"] if r["subject"].startswith("FileSearch")
    ]
    assert finding["status"] == "local"
    assert handbook in finding["detail"]


# --- in the browser ---------------------------------------------------------------------------


def test_the_chat_page_names_the_file_and_quotes_it(
    kithost: KithostProcess, fake: FakeModelServer, handbook: str
) -> None:
    fake.push(*searches_then_quotes())
    problems = PageProblems()
    with chromium() as browser:
        page = browser.new_page()
        problems.watch(page)
        user = ConsoleUser(page, kithost.url)
        user.sign_in("file-search-reader", workflow=LIBRARIAN)
        user.send(QUESTION)
        answer = user.assistant_messages.last
        expect(answer).to_contain_text("From benefits.md:")
        sources = answer.get_by_role("list", name="Sources").locator("li.kc-source-file")
        first = sources.first
        expect(first.locator("summary")).to_have_text("benefits.md")
        expect(first).to_have_attribute("title", re.compile("fourteen weeks at full pay"))
        quote = first.locator("blockquote")
        expect(quote).to_be_hidden()
        first.locator("summary").click()
        expect(quote).to_be_visible()
        expect(quote).to_contain_text("fourteen weeks at full pay")
        page.close()
    assert problems.problems == []


def test_the_admin_console_shows_stores_files_and_ranked_chunks(
    kithost: KithostProcess, handbook: str
) -> None:
    problems = PageProblems()
    with chromium() as browser:
        page = browser.new_page()
        problems.watch(page)
        page.goto(f"{kithost.url}/admin#vector-stores")
        page.get_by_label("Admin API key").fill(ADMIN_KEY)
        page.get_by_role("button", name="Open the console").click()
        row = page.locator(f'#vector-stores-rows tr[data-store-id="{handbook}"]')
        expect(row).to_contain_text("Handbook")
        expect(row).to_contain_text("12 completed")
        row.get_by_role("link", name="Handbook").click()

        expect(page.locator("#vector-store-title")).to_have_text("Handbook")
        files = page.locator("#vector-store-files tr")
        expect(files).to_have_count(12)
        benefits = files.filter(has_text="benefits.md")
        expect(benefits.locator(".badge.status-completed")).to_have_text("completed")
        expect(benefits).to_contain_text('{"team":"people"}')

        page.get_by_role("textbox", name="Search this store").fill("parental leave weeks full pay")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#vector-store-mode")).to_contain_text("hybrid search")
        results = page.locator("#vector-store-results li")
        expect(results).to_have_count(10)
        expect(results.first.locator("strong")).to_have_text("benefits.md")
        expect(results.first.locator("blockquote")).to_contain_text("fourteen weeks at full pay")
        page.close()
    assert problems.problems == []
