"""Shared fixtures: fresh databases on both backends and real kithost server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import PageProblems
from tests.support.databases import BACKENDS, fresh_database
from tests.support.fake_model import FakeModelServer
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.workflow_files import MODEL_APIS, ModelApi


@pytest.fixture(params=BACKENDS, scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        yield url


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KithostProcess]:
    """One kithost process per test module and backend; tests isolate by user names."""
    process = KithostProcess(database_url, tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()


@pytest.fixture
def start_kithost(
    tmp_path: Path,
) -> Iterator[Callable[..., KithostProcess]]:
    """Start extra servers (own environment, optionally a shared database); stopped after."""
    started: list[KithostProcess] = []

    def start(database_url: str, **env: str) -> KithostProcess:
        workdir = tmp_path / f"kithost-{len(started)}"
        workdir.mkdir()
        process = KithostProcess(database_url, workdir, env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def admin(server: KithostProcess) -> Iterator[openai.OpenAI]:
    """The official Python SDK, pointed at kithost with an admin key."""
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModelServer]:
    """The fake OpenAI-compatible model provider, one per test module."""
    with FakeModelServer() as server:
        yield server


@pytest.fixture(scope="module", params=MODEL_APIS)
def api(request: pytest.FixtureRequest) -> ModelApi:
    """The provider API kithost speaks to the fake: each module runs once per API."""
    api: ModelApi = request.param
    return api


# The browser test modules' pages; each of those modules defines its own ``browser``.


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Open pages (each in its own browser context); no script error or CSP refusal allowed."""
    problems = PageProblems()
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems.problems == []


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


# The files that take longest, longest first: `make test` hands whole files to its workers in the
# order they are collected, and a slow file handed out last keeps the run going on one worker.
SLOW_FIRST = (
    "test_import.py",
    "test_container_image.py",  # minutes on a fresh machine: it makes its base image, then builds
    "test_fuzz_openapi.py",
    "test_fuzz_protocol.py",
    "test_vector_stores_cli.py",
    "test_runs_cluster.py",
    "test_console_browser.py",
    "test_webhooks.py",
    "test_server_turns.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order
