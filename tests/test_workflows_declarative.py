"""Declarative YAML workflows, state variables, catalogue tools, model aliases and versions.

One kithost per model API and backend serves a folder of YAML workflows and versioned exports,
with ``KITHOST_MODEL_ALIASES`` mapping the OpenAI model names they carry to the provider's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import openai
import pytest

from tests.support.chatkit_stream import Conversation, client_secret
from tests.support.fake_model import FakeModelServer, ToolCall, text, tool_calls
from tests.support.process import KithostProcess
from tests.support.workflow_files import (
    ModelApi,
    admin_client,
    export_source,
    is_title_request,
    kithost_env,
    serving,
    workflow_requests,
    write,
)

ASSISTANT = "wf_yaml_assistant"
MENU = "wf_yaml_menu"
HELPER = "wf_versioned_helper"
ALIASES = "gpt-4.1=local-large, gpt-4.1-mini=local-small"

ASSISTANT_YAML = """\
    id: wf_yaml_assistant
    name: Plan assistant
    model: gpt-4.1
    instructions: |
      You help {{customer_name}} with their {{ state.plan }} plan.
      Leave {{not_a_variable}} as it is.
    model_settings: {temperature: 0.2, max_tokens: 300}
    tools: [calculator, current_time]
"""


def menu_yaml(version: str, words: str) -> str:
    return f"""\
        id: wf_yaml_menu
        version: "{version}"
        model: gpt-4.1-mini
        instructions: Menu {words}.
    """


@pytest.fixture(scope="module")
def kithost(
    database_url: str,
    api: ModelApi,
    fake: FakeModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp(f"declarative-{api}")
    folder = workdir / "workflows"
    write(folder, "assistant.yaml", ASSISTANT_YAML)
    write(folder, "menu_old.yaml", menu_yaml("1", "version one"))
    write(folder, "menu.yml", menu_yaml("2", "version two"))
    # Natural version order: 10 is newer than 2.
    for version in ("2", "10"):
        source = export_source(HELPER, f"Helper version {version} for {{{{customer_name}}}}.")
        write(folder, f"helper@{version}.py", source)
    env = kithost_env(fake.base_url, api, folder, KITHOST_MODEL_ALIASES=ALIASES)
    with serving(database_url, workdir, env) as process:
        yield process


@pytest.fixture(scope="module")
def admin(kithost: KithostProcess) -> Iterator[openai.OpenAI]:
    with admin_client(kithost) as client:
        yield client


@pytest.fixture(autouse=True)
def _script(fake: FakeModelServer) -> None:
    fake.reset()
    fake.when(is_title_request, text("Thread title"))


def ask(
    kithost: KithostProcess,
    admin: openai.OpenAI,
    workflow_id: str,
    message: str = "Hello",
    *,
    version: str | None = None,
    state_variables: dict[str, Any] | None = None,
) -> str:
    """One turn in a new session; the answer."""
    secret = client_secret(admin, workflow_id, version=version, state_variables=state_variables)
    with Conversation(kithost.url, secret) as chat:
        stream = chat.start(message)
    assert stream.errors == []
    return stream.answer


def test_state_variables_fill_the_instructions(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(text("Hello Ada."), text("Hello Grace."))
    ada = {"customer_name": "Ada Lovelace", "plan": "Pro"}
    grace = {"customer_name": "Grace Hopper", "plan": "Basic"}
    assert ask(kithost, admin, ASSISTANT, state_variables=ada) == "Hello Ada."
    assert ask(kithost, admin, ASSISTANT, state_variables=grace) == "Hello Grace."

    first, second = workflow_requests(fake.requests)
    assert "You help Ada Lovelace with their Pro plan." in first.instructions
    assert "You help Grace Hopper with their Basic plan." in second.instructions
    assert "Leave {{not_a_variable}} as it is." in first.instructions


def test_state_variables_fill_an_exports_instructions(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(text("Hi."))
    ask(kithost, admin, HELPER, state_variables={"customer_name": "Ada"})
    [request] = workflow_requests(fake.requests)
    assert "Helper version 10 for Ada." in request.instructions


def test_catalogue_tools_are_called(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    fake.push(
        tool_calls(
            ToolCall("calculator", {"expression": "(12.5 * 4) / 3"}, call_id="call_calc"),
            ToolCall("current_time", {}, call_id="call_time"),
        ),
        text("That makes 16.67, as of now."),
    )
    answer = ask(kithost, admin, ASSISTANT, "What is 12.5 times 4, over 3, and the time?")

    assert answer == "That makes 16.67, as of now."
    asking, answering = workflow_requests(fake.requests)
    assert set(asking.tool_names) == {"calculator", "current_time"}
    results = [said for role, said in answering.transcript if role == "tool"]
    assert len(results) == 2
    assert float(results[0]) == pytest.approx(50 / 3)
    now = datetime.fromisoformat(results[1])
    assert now.utcoffset() == timedelta(0)
    calls = [said for role, said in answering.transcript if role == "tool_call"]
    name, _, arguments = calls[0].partition("(")
    assert name == "calculator"
    assert json.loads(arguments.removesuffix(")")) == {"expression": "(12.5 * 4) / 3"}


def test_model_aliases_name_the_providers_models(
    kithost: KithostProcess, admin: openai.OpenAI, fake: FakeModelServer
) -> None:
    ask(kithost, admin, ASSISTANT)  # YAML: gpt-4.1
    ask(kithost, admin, HELPER)  # export: gpt-4.1-mini
    models = [request.model for request in workflow_requests(fake.requests)]
    assert models == ["local-large", "local-small"]
    # The title is written by the workflow's model, through the same aliases.
    titles = [request.model for request in fake.requests if is_title_request(request)]
    assert titles == ["local-large", "local-small"]


@pytest.mark.parametrize(
    ("workflow_id", "version", "instructions"),
    [
        (HELPER, None, "Helper version 10"),
        (HELPER, "10", "Helper version 10"),
        (HELPER, "2", "Helper version 2"),
        (MENU, None, "Menu version two."),
        (MENU, "2", "Menu version two."),
        (MENU, "1", "Menu version one."),
    ],
)
def test_a_session_runs_the_version_it_names_or_the_newest(
    kithost: KithostProcess,
    admin: openai.OpenAI,
    fake: FakeModelServer,
    workflow_id: str,
    version: str | None,
    instructions: str,
) -> None:
    ask(kithost, admin, workflow_id, version=version)
    [request] = workflow_requests(fake.requests)
    assert instructions in request.instructions


@pytest.mark.parametrize(
    ("workflow_id", "version"),
    [(HELPER, "3"), (HELPER, "1"), (MENU, "3"), ("wf_not_in_the_folder", None)],
)
def test_an_unknown_workflow_or_version_is_refused_at_session_creation(
    admin: openai.OpenAI, workflow_id: str, version: str | None
) -> None:
    workflow: dict[str, Any] = {"id": workflow_id}
    if version:
        workflow["version"] = version
    with pytest.raises(openai.NotFoundError) as raised:
        admin.beta.chatkit.sessions.create(user="someone", workflow=workflow)
    assert raised.value.status_code == 404
    assert "not found" in raised.value.message
    assert workflow_id in raised.value.message
    if version:
        assert f"'{version}'" in raised.value.message
