"""``WebSearchTool`` in Agent Builder exports, on every provider, end to end.

Off OpenAI, kithost runs the export's web search on the configured backend — a fake SearXNG,
Tavily or Brave Search on a real socket — under the hosted tool's name: the fake model calls
``web_search``, the query reaches the backend, the results reach the model as the tool's
result, and the answer shows them as URL sources, in the stream and in the stored item. With
no backend the model is told web search is unavailable and the turn completes. With
``KITHOST_HOSTED_TOOLS=passthrough`` the hosted tool reaches the (fake) provider unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import ConsoleUser, PageProblems, chromium
from tests.support.chatkit_stream import CONVERSATION_PATH, Conversation, Stream, client_secret
from tests.support.fake_model import FakeModelServer, ModelRequest, Reply, text, tool_call
from tests.support.fake_searxng import FakeSearch, Hit
from tests.support.hosted_exports import DOCS_SEARCH, RESEARCHER, write_exports
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    admin_client,
    control_get,
    is_title_request,
    kithost_env,
    serving,
    workflow_requests,
)

TAVILY_KEY = "tvly-test-secret-7Hq2Xb9Lk4Pz"
BRAVE_KEY = "BSA-test-secret-c83JdQ0aWm"
QUESTION = "What changed in Québec City's tram plans this year?"
QUERY = "Québec tramway 2025 changes"


@pytest.fixture(scope="module")
def search() -> Iterator[FakeSearch]:
    with FakeSearch() as fake_search:
        yield fake_search


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModelServer, search: FakeSearch) -> None:
    fake.reset()
    search.reset()
    fake.when(is_title_request, text("Tram plans"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_exports(tmp_path_factory.mktemp("web-search") / "workflows")


@pytest.fixture(scope="module")
def searxng_kithost(
    database_url: str,
    fake: FakeModelServer,
    search: FakeSearch,
    folder: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    env = kithost_env(
        fake.base_url,
        "chat_completions",
        folder,
        KITHOST_WEB_SEARCH_URL=search.base_url,
        KITHOST_WEB_SEARCH_TIMEOUT="1",
        KITHOST_DEMO_SIGNIN="true",  # for the chat page in Chromium
    )
    with serving(database_url, tmp_path_factory.mktemp("searxng"), env) as process:
        yield process


def searches_then_cites(query: str = QUERY) -> tuple[Reply, Any]:
    """The fake model's two replies: call ``web_search``, then answer from its result."""

    def answer(request: ModelRequest) -> Reply:
        results = tool_results(request)
        urls = re.findall(r"^URL: (\S+)$", results[-1], re.MULTILINE) if results else []
        if urls:
            return text(f"The plans changed; see {urls[0]} for details.")
        return text(f"I could not search: {results[-1] if results else 'no tool result'}")

    return tool_call("web_search", {"query": query}), answer


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


def stored_annotations(kithost: KithostProcess, thread_id: str) -> list[dict[str, Any]]:
    """The REST view of the thread's answer: its annotations."""
    with admin_client(kithost) as admin:
        items = admin.beta.chatkit.threads.list_items(thread_id, order="asc").data
    [answer] = [item.model_dump() for item in items if item.type == "chatkit.assistant_message"]
    return [a for part in answer["content"] for a in part["annotations"]]


def chat_page_sources(kithost: KithostProcess, workflow_id: str, thread_id: str) -> list[Any]:
    """What the chat page loads for the thread (``items.list`` on the conversation plane)."""
    with (
        admin_client(kithost) as admin,
        Conversation(kithost.url, client_secret(admin, workflow_id)) as chat,
    ):
        body = {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
        response = chat.http.post(CONVERSATION_PATH, json=body)
    assert response.status_code == 200, response.text
    answers = [item for item in response.json()["data"] if item["type"] == "assistant_message"]
    return [a["source"] for part in answers[0]["content"] for a in part["annotations"]]


def log_text(kithost: KithostProcess) -> str:
    return kithost.log_path.read_text(errors="replace")


# --- SearXNG ----------------------------------------------------------------------------------


def test_searxng_results_reach_the_model_and_the_chat(
    searxng_kithost: KithostProcess, fake: FakeModelServer, search: FakeSearch
) -> None:
    fake.push(*searches_then_cites())
    stream = turn(searxng_kithost, RESEARCHER)

    assert stream.errors == []
    # The query reached SearXNG's JSON API as the model wrote it; no region hint is sent.
    [request] = search.requests
    assert (request.backend, request.query) == ("searxng", QUERY)
    assert request.params["format"] == "json"
    assert "language" not in request.params
    # The model was offered the tool under the hosted tool's name, as a function tool.
    calling, answering = workflow_requests(fake.requests)
    assert "web_search" in calling.tool_names
    assert answering.model == "gpt-4.1"
    # search_context_size="high": ten of SearXNG's twenty results, each title, URL, snippet.
    [result] = tool_results(answering)
    urls = re.findall(r"^URL: (\S+)$", result, re.MULTILINE)
    assert len(urls) == 10
    assert "[1] Québec tramway 2025 changes — result 1" in result
    assert "Snippet 10 about Québec tramway 2025 changes." in result
    assert "result 11" not in result
    assert stream.answer == f"The plans changed; see {urls[0]} for details."

    # Every result the model read is a source of the answer: live, and stored with the item.
    sources = answer_sources(stream)
    assert [s["url"] for s in sources] == urls
    assert sources[0] == {
        "type": "url",
        "url": urls[0],
        "title": "Québec tramway 2025 changes — result 1",
    }
    updates = [
        event["update"]
        for event in stream.of_type("thread.item.updated")
        if event["update"]["type"] == "assistant_message.content_part.annotation_added"
    ]
    assert [u["annotation"]["source"]["url"] for u in updates] == urls
    assert [u["annotation_index"] for u in updates] == list(range(10))
    stored = stored_annotations(searxng_kithost, stream.thread_id)
    assert stored == [{"type": "url", "source": {"type": "url", "url": url}} for url in urls]
    page = chat_page_sources(searxng_kithost, RESEARCHER, stream.thread_id)
    assert [(s["url"], s["title"]) for s in page] == [(s["url"], s["title"]) for s in sources]


def test_allowed_domains_and_context_size_shape_the_search(
    searxng_kithost: KithostProcess, fake: FakeModelServer, search: FakeSearch
) -> None:
    """docs_search: filters.allowed_domains=["docs.example.org"], search_context_size="low"."""
    search.script(
        results=[
            Hit("Install", "https://docs.example.org/install", "How to install."),
            Hit("Elsewhere", "https://blog.example.com/install", "Off the allowed domain."),
            Hit("API", "https://api.docs.example.org/reference", "A subdomain is allowed."),
            Hit("Lookalike", "https://docs.example.org.evil.test/x", "Not the domain."),
            Hit("Upgrade", "https://docs.example.org/upgrade", "How to upgrade."),
            Hit("FAQ", "https://docs.example.org/faq", "Beyond the three results of low."),
        ]
    )
    fake.push(*searches_then_cites("install on debian"))
    stream = turn(searxng_kithost, DOCS_SEARCH, "How do I install it on Debian?")

    assert stream.errors == []
    [request] = search.requests
    assert request.query == "install on debian site:docs.example.org"
    [result] = tool_results(workflow_requests(fake.requests)[1])
    expected = [
        "https://docs.example.org/install",
        "https://api.docs.example.org/reference",
        "https://docs.example.org/upgrade",
    ]
    assert re.findall(r"^URL: (\S+)$", result, re.MULTILINE) == expected
    assert [s["url"] for s in answer_sources(stream)] == expected


def test_the_chat_page_lists_the_sources(
    searxng_kithost: KithostProcess, fake: FakeModelServer
) -> None:
    fake.push(*searches_then_cites())
    problems = PageProblems()
    with chromium() as browser:
        page = browser.new_page()
        problems.watch(page)
        user = ConsoleUser(page, searxng_kithost.url)
        user.sign_in("web-search-reader", workflow=RESEARCHER)
        user.send(QUESTION)
        answer = user.assistant_messages.last
        expect(answer).to_contain_text("The plans changed; see https://site1.example/")
        links = answer.get_by_role("list", name="Sources").get_by_role("link")
        expect(links).to_have_count(10)
        expect(links.first).to_have_text("Québec tramway 2025 changes — result 1")
        expect(links.first).to_have_attribute("href", re.compile(r"^https://site1\.example/"))
        expect(links.last).to_have_text("Québec tramway 2025 changes — result 10")
        page.close()
    assert problems.problems == []


@pytest.mark.parametrize(
    ("failure", "said"),
    [({"status": 500}, "answered HTTP 500"), ({"hang": True}, "did not answer within 1 s")],
    ids=["error", "timeout"],
)
def test_a_failing_backend_is_reported_to_the_model_and_the_log(
    searxng_kithost: KithostProcess,
    fake: FakeModelServer,
    search: FakeSearch,
    failure: dict[str, Any],
    said: str,
) -> None:
    search.script(**failure)
    fake.push(*searches_then_cites())
    stream = turn(searxng_kithost, RESEARCHER)

    # The turn goes on: the model read the failure and answered.
    assert stream.errors == []
    [result] = tool_results(workflow_requests(fake.requests)[1])
    assert result.startswith(f"Web search failed: the search service {said}.")
    assert stream.answer.startswith("I could not search: Web search failed")
    assert answer_sources(stream) == []
    logged = f"web search failed on SearXNG at {search.base_url}: {said}"
    assert logged in log_text(searxng_kithost)


# --- Tavily and Brave Search -------------------------------------------------------------------


def test_tavily_answers_with_its_key(
    database_url: str,
    fake: FakeModelServer,
    search: FakeSearch,
    folder: Path,
    tmp_path: Path,
) -> None:
    env = kithost_env(
        fake.base_url,
        "chat_completions",
        folder,
        KITHOST_TAVILY_API_KEY=TAVILY_KEY,
        KITHOST_TAVILY_BASE_URL=search.base_url,
    )
    with serving(database_url, tmp_path / "tavily", env) as kithost:
        fake.push(*searches_then_cites())
        stream = turn(kithost, RESEARCHER)
        stored = stored_annotations(kithost, stream.thread_id)
        search.script(status=502)
        fake.push(*searches_then_cites())
        failed = turn(kithost, RESEARCHER)
        listed = json.dumps(control_get(kithost, "/v1/chatkit/workflows"))
        log = log_text(kithost)

    assert stream.errors == failed.errors == []
    first, second = search.requests
    assert (first.backend, first.query) == ("tavily", QUERY)
    assert first.headers["authorization"] == f"Bearer {TAVILY_KEY}"
    assert first.params == {"query": QUERY, "max_results": 10}
    [result] = tool_results(workflow_requests(fake.requests)[1])
    urls = re.findall(r"^URL: (\S+)$", result, re.MULTILINE)
    assert len(urls) == 10
    assert [s["url"] for s in answer_sources(stream)] == urls
    assert [a["source"]["url"] for a in stored] == urls
    # A failure is logged with the backend's name, never its key.
    assert second.backend == "tavily"
    assert "web search failed on Tavily" in log
    assert "answered HTTP 502" in log
    assert TAVILY_KEY not in log
    assert TAVILY_KEY not in listed


def test_brave_answers_with_its_key_and_region(
    database_url: str,
    fake: FakeModelServer,
    search: FakeSearch,
    folder: Path,
    tmp_path: Path,
) -> None:
    env = kithost_env(
        fake.base_url,
        "chat_completions",
        folder,
        KITHOST_BRAVE_API_KEY=BRAVE_KEY,
        KITHOST_BRAVE_BASE_URL=search.base_url,
    )
    with serving(database_url, tmp_path / "brave", env) as kithost:
        fake.push(*searches_then_cites())
        stream = turn(kithost, RESEARCHER)
        log = log_text(kithost)

    assert stream.errors == []
    [request] = search.requests
    assert (request.backend, request.query) == ("brave", QUERY)
    assert request.headers["x-subscription-token"] == BRAVE_KEY
    # user_location.country is Brave's region hint; search_context_size="high" its count.
    assert (request.params["country"], request.params["count"]) == ("CA", "10")
    [result] = tool_results(workflow_requests(fake.requests)[1])
    assert "<strong>" not in result
    assert "Snippet 1 about Québec tramway 2025 changes." in result
    urls = re.findall(r"^URL: (\S+)$", result, re.MULTILINE)
    assert [s["url"] for s in answer_sources(stream)] == urls
    assert len(urls) == 10
    assert BRAVE_KEY not in log


# --- no backend; the hosted tool passed through ------------------------------------------------


def test_without_a_backend_the_model_is_told_and_the_turn_completes(
    database_url: str,
    fake: FakeModelServer,
    search: FakeSearch,
    folder: Path,
    tmp_path: Path,
) -> None:
    """On a compatible server that speaks Responses, the hosted tool is replaced all the same."""
    env = kithost_env(fake.base_url, "responses", folder)
    with serving(database_url, tmp_path / "no-backend", env) as kithost:
        fake.push(*searches_then_cites())
        stream = turn(kithost, RESEARCHER)
        listed = control_get(kithost, "/v1/chatkit/workflows")["data"]
        log = log_text(kithost)

    assert stream.errors == []
    calling, answering = workflow_requests(fake.requests)
    assert calling.api == "responses"
    assert [tool["type"] for tool in calling.body["tools"]] == ["function"]
    [result] = tool_results(answering)
    assert result.startswith("Web search is unavailable on this server")
    assert stream.answer.startswith("I could not search: Web search is unavailable")
    assert answer_sources(stream) == []
    assert search.requests == []
    # Not blocking: the workflow stays available, and says what it needs.
    [entry] = [e for e in listed if e["id"] == RESEARCHER]
    assert entry["status"] == "available"
    [needs] = [r for r in entry["requirements"] if r["subject"].startswith("WebSearchTool")]
    assert needs["status"] == "needs_setting"
    assert needs["detail"].startswith(
        "needs KITHOST_WEB_SEARCH_URL (a SearXNG instance), KITHOST_TAVILY_API_KEY or "
        "KITHOST_BRAVE_API_KEY"
    )
    # The start banner says so too.
    assert 'Needs setup: WebSearchTool "web_search": needs KITHOST_WEB_SEARCH_URL' in log


def test_passthrough_sends_the_hosted_tool_unchanged(
    database_url: str,
    fake: FakeModelServer,
    search: FakeSearch,
    folder: Path,
    tmp_path: Path,
) -> None:
    env = kithost_env(
        fake.base_url,
        "responses",
        folder,
        KITHOST_HOSTED_TOOLS="passthrough",
        KITHOST_WEB_SEARCH_URL=search.base_url,
    )
    with serving(database_url, tmp_path / "passthrough", env) as kithost:
        fake.push(text("OpenAI searched, and the plans changed."))
        stream = turn(kithost, RESEARCHER)

    assert stream.answer == "OpenAI searched, and the plans changed."
    [request] = workflow_requests(fake.requests)
    assert request.api == "responses"
    assert request.body["tools"] == [
        {
            "type": "web_search",
            "filters": None,
            "user_location": {
                "city": "Québec",
                "country": "CA",
                "region": "QC",
                "type": "approximate",
            },
            "search_context_size": "high",
        }
    ]
    assert search.requests == []
