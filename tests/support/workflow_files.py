"""Workflow folders for the workflow tests, and kithost processes that serve them.

The two Agent Builder exports are copied byte for byte from the shared fixtures; smaller exports
and YAML files are written on the spot. Every process talks to the fake model provider.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
import openai

from tests.support.fake_model import ModelRequest
from tests.support.process import ADMIN_KEY, KithostProcess

# The project's shared folder sits beside the repository (as CI lays it out).
REPO_ROOT = Path(__file__).resolve().parents[2]
AGENT_BUILDER_FIXTURES = Path(
    os.environ.get(
        "KITHOST_TEST_AGENT_BUILDER_FIXTURES",
        str(REPO_ROOT.parent / "shared" / "fixtures" / "agent_builder"),
    )
)
FAQ_BOT = "wf_68f1c0de0a1b8190a7c9e2d4b6f80a1c2e3d4f5a6b7c8d9e"
SUPPORT_TRIAGE = "wf_6901aa77c2e48190b3d5f7091a2b3c4d5e6f708192a3b4c5"
BUILTINS = ("wf_kithost_demo", "wf_kithost_echo")
EXPORTS = (FAQ_BOT, SUPPORT_TRIAGE)
EXPORT_NAMES = ("faq_bot", "support_triage")  # test ids for EXPORTS

ModelApi = Literal["chat_completions", "responses"]
MODEL_APIS: tuple[ModelApi, ...] = ("chat_completions", "responses")
CONTROL_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Beta": "chatkit_beta=v1"}


def copy_fixture_exports(folder: Path) -> list[Path]:
    """Copy the Agent Builder exports into ``folder`` unmodified; the copies."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sorted(AGENT_BUILDER_FIXTURES.glob("*.py")):
        copy = folder / source.name
        shutil.copyfile(source, copy)
        assert copy.read_bytes() == source.read_bytes()
        copies.append(copy)
    assert {path.name for path in copies} == {"faq_bot.py", "support_triage.py"}
    return copies


def export_source(workflow_id: str, instructions: str, model: str = "gpt-4.1-mini") -> str:
    """A one-agent export in Agent Builder's shape (non-streaming ``Runner.run``)."""
    return textwrap.dedent(
        f'''\
        from agents import Agent, ModelSettings, TResponseInputItem, Runner, RunConfig, trace
        from pydantic import BaseModel

        helper = Agent(
          name="Helper",
          instructions="""{instructions}""",
          model="{model}",
          model_settings=ModelSettings(temperature=1, top_p=1, max_tokens=2048, store=True)
        )


        class WorkflowInput(BaseModel):
          input_as_text: str


        async def run_workflow(workflow_input: WorkflowInput):
          with trace("Helper"):
            workflow = workflow_input.model_dump()
            conversation_history: list[TResponseInputItem] = [
              {{
                "role": "user",
                "content": [{{"type": "input_text", "text": workflow["input_as_text"]}}]
              }}
            ]
            result = await Runner.run(
              helper,
              input=[*conversation_history],
              run_config=RunConfig(trace_metadata={{
                "__trace_source__": "agent-builder",
                "workflow_id": "{workflow_id}"
              }})
            )
            return {{"output_text": result.final_output_as(str)}}
        '''
    )


def write(folder: Path, name: str, text: str) -> Path:
    """Write a workflow file (YAML text is dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def kithost_env(fake_base_url: str, api: ModelApi, folder: Path, **env: str) -> dict[str, str]:
    """The environment of a kithost that runs ``folder``'s workflows on the fake model."""
    return {
        "KITHOST_WORKFLOWS_DIR": str(folder),
        "OPENAI_BASE_URL": fake_base_url,
        "OPENAI_API_KEY": "test",
        "KITHOST_MODEL_API": api,
        **env,
    }


@contextmanager
def serving(database_url: str, workdir: Path, env: dict[str, str]) -> Iterator[KithostProcess]:
    """A started kithost process, stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    process = KithostProcess(database_url, workdir, env).start()
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def admin_client(process: KithostProcess) -> Iterator[openai.OpenAI]:
    """The official Python SDK on ``process`` with the admin key."""
    with openai.OpenAI(base_url=f"{process.url}/v1", api_key=ADMIN_KEY, max_retries=0) as client:
        yield client


def control_get(process: KithostProcess, path: str) -> Any:
    """GET a control-plane extension (not in the SDK) with the admin key; its JSON."""
    response = httpx.get(f"{process.url}{path}", headers=CONTROL_HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def is_title_request(request: ModelRequest) -> bool:
    """kithost's request for a thread title (not part of any workflow)."""
    return "title" in request.instructions.lower()


def workflow_requests(requests: list[ModelRequest]) -> list[ModelRequest]:
    """The requests the workflows made, without title requests."""
    return [request for request in requests if not is_title_request(request)]


def wait_until(check: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll ``check`` until it is true (e.g. a signal was handled); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(0.1)
