"""The workflow registry as operators see it: ``GET /v1/chatkit/workflows`` and the ``kithost
workflows list|check|reload`` and ``kithost traces`` commands, each a real subprocess against
a running server and its database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.chatkit_stream import Conversation, client_secret
from tests.support.fake_model import FakeModelServer, text
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    AGENT_BUILDER_FIXTURES,
    BUILTINS,
    FAQ_BOT,
    SUPPORT_TRIAGE,
    admin_client,
    control_get,
    copy_fixture_exports,
    export_source,
    kithost_env,
    serving,
    wait_until,
    write,
)

HELPER = "wf_versioned_helper"
PLANNER = "wf_yaml_planner"
DROPPED = "wf_dropped_in_later"

PLANNER_YAML = """\
    id: wf_yaml_planner
    version: "2025-11-30"
    name: Planner
    instructions: Plan the week.
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "workflows"
    copy_fixture_exports(folder)
    write(folder, "helper@1.py", export_source(HELPER, "Helper version 1."))
    write(folder, "helper@2.py", export_source(HELPER, "Helper version 2."))
    write(folder, "planner.yaml", PLANNER_YAML)
    return folder


@pytest.fixture(scope="module")
def kithost(
    database_url: str, folder: Path, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    env = kithost_env(fake.base_url, "chat_completions", folder)
    with serving(database_url, tmp_path_factory.mktemp("cli-server"), env) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_script(fake: FakeModelServer) -> None:
    fake.reset()


def kithost_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m kithost …`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "kithost", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def server_cli(kithost: KithostProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """A command with the running server's configuration (database, folder, data dir)."""
    return kithost_cli(*args, env=kithost.environment(), cwd=kithost.workdir)


def listed(kithost: KithostProcess) -> dict[tuple[str, str], dict[str, Any]]:
    data = control_get(kithost, "/v1/chatkit/workflows")["data"]
    return {(entry["id"], entry["version"]): entry for entry in data}


# --- GET /v1/chatkit/workflows -----------------------------------------------------------------


def test_endpoint_lists_builtins_and_files_with_versions(kithost: KithostProcess) -> None:
    body = control_get(kithost, "/v1/chatkit/workflows")
    assert body["object"] == "list"
    assert body["has_more"] is False
    entries = listed(kithost)
    for builtin in BUILTINS:
        assert entries[(builtin, "1")]["source"] == "builtin"
        assert entries[(builtin, "1")]["default"] is True
    for export in (FAQ_BOT, SUPPORT_TRIAGE):
        assert entries[(export, "1")]["source"] == "agent_builder"
        assert entries[(export, "1")]["default"] is True
    assert entries[(FAQ_BOT, "1")]["name"] == "faq_bot"
    assert entries[(HELPER, "1")]["default"] is False
    assert entries[(HELPER, "2")]["default"] is True
    planner = entries[(PLANNER, "2025-11-30")]
    assert (planner["source"], planner["name"], planner["default"]) == (
        "declarative",
        "Planner",
        True,
    )
    for entry in entries.values():
        assert entry["object"] == "chatkit.workflow_version"


def test_endpoint_needs_the_admin_key(kithost: KithostProcess) -> None:
    response = httpx.get(
        f"{kithost.url}/v1/chatkit/workflows", headers={"OpenAI-Beta": "chatkit_beta=v1"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"]


# --- kithost workflows list ------------------------------------------------------------------


def test_list_command_marks_the_default_version(kithost: KithostProcess) -> None:
    result = server_cli(kithost, "workflows", "list")
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:2]) for line in result.stdout.splitlines()}
    assert {
        (FAQ_BOT, "*1"),
        (SUPPORT_TRIAGE, "*1"),
        (HELPER, "1"),
        (HELPER, "*2"),
        (PLANNER, "*2025-11-30"),
        *((builtin, "*1") for builtin in BUILTINS),
    } <= rows


# --- kithost workflows check -----------------------------------------------------------------


def test_check_accepts_the_agent_builder_exports(tmp_path: Path) -> None:
    """The shared fixtures as shipped (a read-only folder), not a copy."""
    result = kithost_cli("workflows", "check", str(AGENT_BUILDER_FIXTURES), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"ok       {FAQ_BOT} version 1 (agent_builder)" in result.stdout
    assert f"ok       {SUPPORT_TRIAGE} version 1 (agent_builder)" in result.stdout


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


MISSING_COLON = export_source("wf_broken_syntax", "Hi.").replace(
    "class WorkflowInput(BaseModel):", "class WorkflowInput(BaseModel)"
)
BROKEN_FILES: dict[str, tuple[str, int, str]] = {
    # name: (content, line of the problem, reason)
    "syntax_error.py": (
        MISSING_COLON,
        line_of(MISSING_COLON, "class WorkflowInput"),
        "not valid Python: expected ':'",
    ),
    "import_error.py": (
        "import json\nimport kithost_no_such_module\n" + export_source("wf_broken_import", "Hi."),
        2,
        "import failed: ModuleNotFoundError",
    ),
    "invalid_at_import.py": (
        export_source("wf_broken_input", "Hi.") + "WorkflowInput(input_as_text=None)\n",
        len(export_source("wf_broken_input", "Hi.").splitlines()) + 1,
        "import failed: ValidationError: 1 validation error for WorkflowInput input_as_text",
    ),
    "no_workflow_id.py": (
        export_source("wf_placeholder", "Hi.").replace('"workflow_id"', '"workflow"'),
        1,
        "no workflow id",
    ),
    "bad_syntax.yaml": (
        "id: wf_bad_yaml\ninstructions: [unclosed\nmodel: x\n",
        3,
        "not valid YAML",
    ),
    "unknown_tool.yaml": (
        "id: wf_unknown_tool\nname: Searcher\ntools: [web_search]\n",
        3,
        "unknown tool 'web_search'",
    ),
    "bad_id.yaml": ("name: No id\nid: not-a-wf-id\n", 2, "id: String should match pattern"),
    "bad_setting.yaml": (
        "id: wf_hot\nmodel_settings: {temperature: 5}\n",
        2,
        "model_settings.temperature: Input should be less than or equal to 2",
    ),
}


def test_check_reports_each_broken_file_with_its_line(tmp_path: Path) -> None:
    copy_fixture_exports(tmp_path)
    for name, (content, _, _) in BROKEN_FILES.items():
        (tmp_path / name).write_text(content, encoding="utf-8")

    result = kithost_cli("workflows", "check", str(tmp_path), cwd=tmp_path)

    assert result.returncode == 1
    problems = result.stderr.splitlines()
    assert len(problems) == len(BROKEN_FILES)
    for name, (_, line, reason) in BROKEN_FILES.items():
        [problem] = [p for p in problems if p.startswith(f"{tmp_path / name}:")]
        assert problem.startswith(f"{tmp_path / name}:{line}: {reason}"), problem
    # One line per problem, and the good files are still reported as loadable (each with its
    # findings on indented lines below it).
    assert len([line for line in result.stdout.splitlines() if not line.startswith(" ")]) == 2
    assert f"ok       {FAQ_BOT} version 1" in result.stdout


# --- kithost workflows reload ----------------------------------------------------------------


def session_refused(admin: openai.OpenAI, workflow_id: str) -> bool:
    try:
        admin.beta.chatkit.sessions.create(user="reloader", workflow={"id": workflow_id})
    except openai.NotFoundError:
        return True
    return False


def test_reload_picks_up_a_new_file_without_restart(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer, folder: Path
) -> None:
    assert session_refused(admin, DROPPED)
    pid = kithost.proc.pid if kithost.proc else None
    new_file = write(folder, "dropped.py", export_source(DROPPED, "Dropped in later."))
    try:
        result = server_cli(kithost, "workflows", "reload")
        assert result.returncode == 0, result.stderr
        assert f"pid {pid}" in result.stdout
        wait_until(lambda: (DROPPED, "1") in listed(kithost))

        fake.push(text("Freshly loaded."))
        with Conversation(kithost.url, client_secret(admin, DROPPED)) as chat:
            assert chat.start("Hello").answer == "Freshly loaded."
        assert "Dropped in later." in fake.requests[0].instructions
    finally:
        new_file.unlink()
    # Removed from the folder, gone after the next reload.
    assert server_cli(kithost, "workflows", "reload").returncode == 0
    wait_until(lambda: (DROPPED, "1") not in listed(kithost))
    assert session_refused(admin, DROPPED)
    assert kithost.proc is not None
    assert kithost.proc.pid == pid  # the same process throughout


def test_reload_without_a_running_server_fails(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITHOST_")}
    env["KITHOST_DATA_DIR"] = str(tmp_path / "data")
    result = kithost_cli("workflows", "reload", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "no running kithost found" in result.stderr


# --- kithost traces --------------------------------------------------------------------------


def test_traces_command_prints_the_spans(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(text("We open at 7am."))
    with Conversation(kithost.url, client_secret(admin, FAQ_BOT, titling=False)) as chat:
        thread_id = chat.start("When do you open?").thread_id

    result = server_cli(kithost, "traces", thread_id)

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == control_get(kithost, f"/v1/chatkit/threads/{thread_id}/traces")
    [trace] = printed["data"]
    assert trace["thread_id"] == thread_id
    kinds = {span["type"] for span in trace["spans"]}
    assert {"agent", "generation"} <= kinds


def test_traces_command_refuses_an_unknown_thread(kithost: KithostProcess) -> None:
    unknown = "cthr_0000000000000000000000000000000000000000000000ff"
    result = server_cli(kithost, "traces", unknown)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert f"No thread found with id '{unknown}'" in result.stderr
