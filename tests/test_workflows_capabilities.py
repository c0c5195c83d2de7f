"""What each workflow needs on this server, said the same way everywhere.

Agent Builder exports with hosted tools (web search, code interpreter, image generation, file
search) and various model names, judged against the configured provider: ``kithost workflows
check`` (its lines and exit codes), ``kithost workflows list``, the start banner,
``GET /v1/chatkit/workflows`` (``status``, ``unavailable_reason``, ``requirements``), the
admin console's Workflows tab in Chromium, and ``sessions.create`` through the official SDK.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from tests.support.browser import PageProblems, chromium
from tests.support.fake_model import FakeModelServer
from tests.support.hosted_exports import (
    ANALYST,
    DOCS_SEARCH,
    FILE_SEARCH_EXPORTS,
    FILE_SEARCH_STORE,
    ILLUSTRATOR,
    LIBRARIAN,
    RESEARCHER,
    UNAVAILABLE_OFF_OPENAI,
    WEB_SEARCH_EXPORTS,
    write_exports,
)
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.workflow_files import (
    admin_client,
    control_get,
    export_source,
    kithost_env,
    serving,
    write,
)

COMPATIBLE = "http://127.0.0.1:9/v1"  # never called: `check` only reads the files
CHAT_COMPLETIONS = {
    "OPENAI_BASE_URL": COMPATIBLE,
    "KITHOST_MODEL_API": "chat_completions",
    "KITHOST_MODEL_ALIASES": "gpt-4.1=llama3.1:8b",
}
WEB_SEARCH_NEEDS = (
    'WebSearchTool "web_search": needs KITHOST_WEB_SEARCH_URL (a SearXNG instance), '
    "KITHOST_TAVILY_API_KEY or KITHOST_BRAVE_API_KEY; until one is set, the model is told web "
    "search is unavailable"
)
UNAVAILABLE_LINES = {
    ANALYST: 'CodeInterpreterTool "code_interpreter": not available on this provider (code runs '
    "in OpenAI's sandbox",
    ILLUSTRATOR: 'ImageGenerationTool "image_generation": not available on this provider',
}
FILE_SEARCH_LOCAL = (
    f'FileSearchTool "file_search": local equivalent (searches kithost\'s vector stores '
    f"{FILE_SEARCH_STORE} (keyword search; set KITHOST_EMBEDDING_MODEL for hybrid))"
)


def check(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``kithost workflows check FOLDER`` with only ``env`` configured (no OpenAI key)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "kithost", "workflows", "check", str(folder)],
        env={**clean, **env},
        cwd=folder.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def blocks(stdout: str) -> dict[str, list[str]]:
    """``check``'s output per workflow id: its head line, then its finding lines."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in stdout.splitlines():
        if not line.startswith(" "):
            current = [line]
            found[line.split()[1]] = current
        else:
            current.append(line.strip())
    return found


# --- kithost workflows check ------------------------------------------------------------------


def test_check_judges_every_hosted_tool_against_a_compatible_server(tmp_path: Path) -> None:
    result = check(write_exports(tmp_path / "workflows"), **CHAT_COMPLETIONS)

    assert result.returncode == 1
    found = blocks(result.stdout)
    assert set(found) == {RESEARCHER, DOCS_SEARCH, ANALYST, ILLUSTRATOR, LIBRARIAN}
    assert found[RESEARCHER] == [
        f"ok       {RESEARCHER} version 1 (agent_builder)",
        WEB_SEARCH_NEEDS,
        'model "gpt-4.1": local equivalent (alias → llama3.1:8b)',
    ]
    assert found[DOCS_SEARCH][:2] == [
        f"ok       {DOCS_SEARCH} version 1 (agent_builder)",
        WEB_SEARCH_NEEDS,
    ]
    # No alias covers gpt-4.1-mini: a warning naming the fix, not a refusal.
    assert found[DOCS_SEARCH][2] == (
        f'model "gpt-4.1-mini": will fail on this provider unless Chat Completions at '
        f'{COMPATIBLE} serves a model named "gpt-4.1-mini" (passed as is); set '
        "`KITHOST_MODEL_ALIASES=gpt-4.1-mini=<a model it serves>`"
    )
    for workflow_id, line in UNAVAILABLE_LINES.items():
        head, tool, model = found[workflow_id]
        assert head == f"unavailable {workflow_id} version 1 (agent_builder)"
        assert tool.startswith(line)
        assert tool.endswith(f"this server's model provider is Chat Completions at {COMPATIBLE})")
        assert model == 'model "gpt-4.1": local equivalent (alias → llama3.1:8b)'
    # FileSearchTool searches kithost's own vector stores.
    assert found[LIBRARIAN] == [
        f"ok       {LIBRARIAN} version 1 (agent_builder)",
        FILE_SEARCH_LOCAL,
        'model "gpt-4.1": local equivalent (alias → llama3.1:8b)',
    ]
    # Each workflow that cannot run is named on stderr too, and nothing else is.
    refused = result.stderr.splitlines()
    assert len(refused) == 2
    for workflow_id, line in UNAVAILABLE_LINES.items():
        tool = line.split(":")[0]
        [said] = [r for r in refused if r.startswith(workflow_id)]
        assert said.startswith(f"{workflow_id} version 1 cannot run on this server: {tool} is not")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        *((name, 0) for name in WEB_SEARCH_EXPORTS),
        *((name, 0) for name in FILE_SEARCH_EXPORTS),
        *((name, 1) for name in UNAVAILABLE_OFF_OPENAI),
    ],
)
def test_check_fails_only_for_files_that_cannot_run(tmp_path: Path, name: str, code: int) -> None:
    result = check(write_exports(tmp_path / "workflows", (name,)), **CHAT_COMPLETIONS)
    assert result.returncode == code, result.stdout + result.stderr
    assert (result.stderr == "") == (code == 0)


def test_check_names_the_configured_search_backend(tmp_path: Path) -> None:
    folder = write_exports(tmp_path / "workflows", WEB_SEARCH_EXPORTS)
    searxng = check(
        folder,
        **CHAT_COMPLETIONS,
        KITHOST_WEB_SEARCH_URL="http://searcher:secret@127.0.0.1:8888/?token=abc",
    )
    tavily = check(folder, **CHAT_COMPLETIONS, KITHOST_TAVILY_API_KEY="tvly-not-shown")

    assert searxng.returncode == tavily.returncode == 0
    assert blocks(searxng.stdout)[RESEARCHER][1] == (
        'WebSearchTool "web_search": local equivalent (searches with SearXNG at '
        "http://127.0.0.1:8888/)"
    )
    assert blocks(tavily.stdout)[RESEARCHER][1] == (
        'WebSearchTool "web_search": local equivalent (searches with Tavily '
        "(https://api.tavily.com))"
    )
    for output in (searxng.stdout, tavily.stdout):
        assert "secret" not in output
        assert "abc" not in output
        assert "tvly-not-shown" not in output


def test_check_on_openai_passes_hosted_tools_through(tmp_path: Path) -> None:
    folder = write_exports(tmp_path / "workflows")
    responses = check(folder, OPENAI_API_KEY="sk-only-for-this-test")
    chat = check(
        folder, OPENAI_API_KEY="sk-only-for-this-test", KITHOST_MODEL_API="chat_completions"
    )

    assert responses.returncode == 0
    for workflow_id, lines in blocks(responses.stdout).items():
        assert lines[0].startswith(f"ok       {workflow_id}")
        assert all(line.endswith(": runs on OpenAI") for line in lines[1:]), lines
    # OpenAI's Chat Completions has no hosted tools: the same rules as any other server, but
    # the model names are OpenAI's own.
    assert chat.returncode == 1
    found = blocks(chat.stdout)
    assert found[RESEARCHER][1:] == [WEB_SEARCH_NEEDS, 'model "gpt-4.1": runs on OpenAI']
    assert found[ANALYST][0].startswith("unavailable")
    assert "OpenAI (Chat Completions)" in found[ANALYST][1]


def test_check_needs_no_provider_at_all(tmp_path: Path) -> None:
    result = check(write_exports(tmp_path / "workflows", ("researcher.py",)))
    assert result.returncode == 0, result.stderr
    assert blocks(result.stdout)[RESEARCHER][1:] == [
        WEB_SEARCH_NEEDS,
        "model provider: needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (an OpenAI-compatible "
        "server); until one is set, every turn of this workflow fails",
    ]


def test_check_says_how_each_model_name_resolves(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    names = {
        "wf_aliased": "gpt-4.1",
        "wf_openai_name": "gpt-5",
        "wf_reasoning": "o4-mini",
        "wf_open_weights": "gpt-oss-120b",
        "wf_local_name": "llama3.2:3b",
    }
    for workflow_id, model in names.items():
        write(folder, f"{workflow_id}.py", export_source(workflow_id, "Hi.", model=model))
    write(folder, "unnamed.yaml", "id: wf_unnamed\ninstructions: Hi.\n")
    env = {**CHAT_COMPLETIONS, "KITHOST_MODEL_ALIASES": "gpt-4.1=llama3.1:8b,qwen=qwen2.5:7b"}

    without_default = blocks(check(folder, **env).stdout)
    with_default = check(folder, **env, KITHOST_DEFAULT_MODEL="qwen")

    assert with_default.returncode == 0  # model names are warnings, never refusals
    assert without_default["wf_aliased"][1] == (
        'model "gpt-4.1": local equivalent (alias → llama3.1:8b)'
    )
    for workflow_id in ("wf_openai_name", "wf_reasoning"):
        model = names[workflow_id]
        assert without_default[workflow_id][1].startswith(
            f'model "{model}": will fail on this provider unless Chat Completions at '
            f'{COMPATIBLE} serves a model named "{model}" (passed as is)'
        )
    assert without_default["wf_open_weights"][1] == (
        'model "gpt-oss-120b": local equivalent (passed as is)'
    )
    assert without_default["wf_local_name"][1] == (
        'model "llama3.2:3b": local equivalent (passed as is)'
    )
    # With KITHOST_DEFAULT_MODEL unset, an agent that names no model gets kithost's fallback.
    assert without_default["wf_unnamed"][1] == (
        "model (none named): will fail on this provider unless Chat Completions at "
        f'{COMPATIBLE} serves a model named "gpt-4.1-mini" (kithost\'s fallback gpt-4.1-mini); '
        "set `KITHOST_MODEL_ALIASES=gpt-4.1-mini=<a model it serves>` or "
        "`KITHOST_DEFAULT_MODEL`"
    )
    # The default covers only agents that name no model, through the aliases like any name.
    defaulted = blocks(with_default.stdout)
    assert defaulted["wf_unnamed"][1] == (
        "model (none named): local equivalent (the default model qwen, alias → qwen2.5:7b)"
    )
    assert defaulted["wf_openai_name"][1] == without_default["wf_openai_name"][1]


# --- a server: list, banner, GET /v1/chatkit/workflows, sessions.create, admin console --------


@pytest.fixture(scope="module")
def kithost(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("capabilities")
    folder = write_exports(workdir / "workflows")
    env = kithost_env(
        fake.base_url, "chat_completions", folder, KITHOST_MODEL_ALIASES="gpt-4.1=llama3.1:8b"
    )
    with serving(database_url, workdir, env) as process:
        yield process


def listed(kithost: KithostProcess) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in control_get(kithost, "/v1/chatkit/workflows")["data"]}


def test_endpoint_gives_status_and_requirements(kithost: KithostProcess) -> None:
    entries = listed(kithost)
    provider = f"Chat Completions at http://127.0.0.1:{fake_port(kithost)}/v1"

    for workflow_id in (RESEARCHER, DOCS_SEARCH):
        entry = entries[workflow_id]
        assert (entry["status"], entry["unavailable_reason"]) == ("available", None)
        assert entry["requirements"][0]["subject"] == 'WebSearchTool "web_search"'
        assert entry["requirements"][0]["status"] == "needs_setting"
    assert entries[RESEARCHER]["requirements"][1] == {
        "subject": 'model "gpt-4.1"',
        "status": "local",
        "detail": "alias → llama3.1:8b",
    }
    assert entries[DOCS_SEARCH]["requirements"][1]["status"] == "needs_setting"
    for workflow_id, line in UNAVAILABLE_LINES.items():
        entry = entries[workflow_id]
        tool = line.split(":")[0]
        assert entry["status"] == "unavailable"
        assert entry["unavailable_reason"].startswith(f"{tool} is not available on this provider")
        assert entry["unavailable_reason"].endswith(f"this server's model provider is {provider})")
        assert entry["requirements"][0]["subject"] == tool
        assert entry["requirements"][0]["status"] == "unavailable"
    librarian = entries[LIBRARIAN]
    assert (librarian["status"], librarian["requirements"][0]["status"]) == ("available", "local")
    # Built-in workflows need nothing.
    demo = entries["wf_kithost_demo"]
    assert (demo["status"], demo["unavailable_reason"], demo["requirements"]) == (
        "available",
        None,
        [],
    )


def fake_port(kithost: KithostProcess) -> str:
    return kithost.extra_env["OPENAI_BASE_URL"].split(":")[2].split("/")[0]


@pytest.mark.parametrize("workflow_id", list(UNAVAILABLE_LINES))
def test_sessions_create_refuses_an_unavailable_workflow(
    kithost: KithostProcess, workflow_id: str
) -> None:
    tool = UNAVAILABLE_LINES[workflow_id].split(":")[0]
    with admin_client(kithost) as admin, pytest.raises(openai.BadRequestError) as raised:
        admin.beta.chatkit.sessions.create(user="capabilities", workflow={"id": workflow_id})

    error = raised.value
    assert error.status_code == 400
    assert isinstance(error.body, dict)
    assert (error.body["type"], error.body["code"], error.body["param"]) == (
        "invalid_request_error",
        "workflow_unavailable",
        "workflow.id",
    )
    message = error.body["message"]
    assert message.startswith(f"Workflow '{workflow_id}' version '1' cannot run on this server: ")
    assert tool in message
    assert f"Chat Completions at http://127.0.0.1:{fake_port(kithost)}/v1" in message
    assert error.response.headers["x-request-id"]


def test_sessions_create_accepts_a_workflow_that_only_needs_setup(
    kithost: KithostProcess,
) -> None:
    with admin_client(kithost) as admin:
        session = admin.beta.chatkit.sessions.create(
            user="capabilities", workflow={"id": RESEARCHER}
        )
    assert session.workflow.id == RESEARCHER


def test_list_command_and_banner_show_the_status(kithost: KithostProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kithost", "workflows", "list"],
        env=kithost.environment(),
        cwd=kithost.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = {
        line.split()[0]: line.split() for line in result.stdout.splitlines() if line[:3] == "wf_"
    }
    assert rows[RESEARCHER][3] == "available"
    for workflow_id in UNAVAILABLE_LINES:
        assert rows[workflow_id][3] == "unavailable"

    banner = kithost.log_path.read_text()
    for workflow_id, line in UNAVAILABLE_LINES.items():
        tool = line.split(":")[0]
        assert f"Unavailable: {workflow_id} version 1: {tool} is not available" in banner
    [needs] = [line for line in banner.splitlines() if line.startswith("Needs setup: WebSearch")]
    assert needs.startswith(f"Needs setup: {WEB_SEARCH_NEEDS} (used by ")
    assert f"{RESEARCHER} version 1" in needs
    assert f"{DOCS_SEARCH} version 1" in needs
    assert 'Needs setup: model "gpt-4.1-mini": will fail on this provider' in banner


def test_admin_console_shows_status_and_findings(kithost: KithostProcess) -> None:
    problems = PageProblems()
    with chromium() as browser:
        page = browser.new_page()
        problems.watch(page)
        page.goto(f"{kithost.url}/admin#workflows")
        page.get_by_label("Admin API key").fill(ADMIN_KEY)
        page.get_by_role("button", name="Open the console").click()
        rows = page.locator("#workflows-rows")
        expect(rows.locator("tr")).not_to_have_count(0)

        analyst = rows.locator(f'tr[data-workflow-id="{ANALYST}"]')
        expect(analyst.locator(".badge.status-unavailable")).to_have_text("unavailable")
        blocking = analyst.locator(".findings li.finding-unavailable")
        expect(blocking).to_contain_text('CodeInterpreterTool "code_interpreter"')
        expect(blocking.locator(".verdict")).to_have_text("not available on this provider")
        expect(blocking).to_contain_text("code runs in OpenAI's sandbox")
        researcher = rows.locator(f'tr[data-workflow-id="{RESEARCHER}"]')
        expect(researcher.locator(".badge.status-available")).to_have_text("available")
        findings = researcher.locator(".findings li")
        expect(findings).to_have_count(2)
        expect(findings.first).to_contain_text("needs setup")
        expect(findings.first).to_contain_text("needs KITHOST_WEB_SEARCH_URL")
        expect(findings.nth(1)).to_contain_text("alias → llama3.1:8b")
        # `code` spans are rendered, not shown with their backticks.
        docs = rows.locator(f'tr[data-workflow-id="{DOCS_SEARCH}"] .findings li').nth(1)
        expect(docs.locator("code")).to_have_text(
            "KITHOST_MODEL_ALIASES=gpt-4.1-mini=<a model it serves>"
        )
        expect(docs).not_to_contain_text("`")
        page.close()
    assert problems.problems == []
