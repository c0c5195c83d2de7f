"""Real traffic for the Overview's tests (issue 17), and what its numbers must then be.

Turns are real conversations through a real kithost on the fake model: each turn's model
requests are read back from the fake, and their tokens counted the way the fake reported them
(tests/support/fake_model/responses.py), so the expected totals are the provider's own figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.chatkit_client import ChatFactory, ChatKitClient, user_input
from tests.support.fake_model import FakeModelServer, ModelRequest, error, text
from tests.support.fake_model.wire import count_tokens
from tests.support.process import KithostProcess
from tests.support.workflow_files import export_source, is_title_request, kithost_env, write

ALPHA = "wf_usage_alpha"
BETA = "wf_usage_beta"
MODELS = {ALPHA: "gpt-4.1-mini", BETA: "gpt-4.1-nano"}
USAGE_PATH = "/v1/chatkit/usage"


def usage_env(fake: FakeModelServer, folder: Path) -> dict[str, str]:
    """A kithost whose two workflows (one model each) answer through the fake."""
    for workflow, model in MODELS.items():
        write(folder, f"{workflow}.py", export_source(workflow, "Answer briefly.", model=model))
    return kithost_env(fake.base_url, "responses", folder)


@dataclass(frozen=True)
class TurnDone:
    workflow: str
    user: str
    new_thread: bool
    failed: bool
    tokens: dict[str, tuple[int, int]]  # model -> (input, output)


@dataclass
class Traffic:
    turns: list[TurnDone] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)  # workflow -> 429s

    def expected(self, workflow: str | None = None, user: str | None = None) -> dict[str, Any]:
        """The endpoint's ``totals`` (and tokens per workflow and model) for a filter."""
        turns = [
            turn
            for turn in self.turns
            if (workflow is None or turn.workflow == workflow)
            and (user is None or turn.user == user)
        ]
        tokens: dict[tuple[str, str], list[int]] = {}
        for turn in turns:
            for model, (spent_in, spent_out) in turn.tokens.items():
                entry = tokens.setdefault((turn.workflow, model), [0, 0])
                entry[0] += spent_in
                entry[1] += spent_out
        failed = sum(turn.failed for turn in turns)
        refusals = None
        if user is None:
            refusals = sum(
                n for name, n in self.refusals.items() if workflow is None or name == workflow
            )
        return {
            "conversations": sum(turn.new_thread for turn in turns),
            "messages": len(turns),
            "active_users": len({turn.user for turn in turns}),
            "runs": len(turns),
            "failed_runs": failed,
            "input_tokens": sum(entry[0] for entry in tokens.values()),
            "output_tokens": sum(entry[1] for entry in tokens.values()),
            "refusals": refusals,
            "tokens": {key: tuple(entry) for key, entry in tokens.items()},
        }


def reported_usage(request: ModelRequest) -> tuple[int, int]:
    """The usage the fake sent for a completed Responses API request."""
    body = request.body
    assert request.reply is not None
    spent_in = count_tokens(body.get("input")) + count_tokens(body.get("instructions"))
    return spent_in, request.reply.token_count


class TrafficMaker:
    """Turns on one server; each one's model usage read back from the fake."""

    def __init__(self, server: KithostProcess, fake: FakeModelServer, factory: ChatFactory):
        self.server = server
        self.fake = fake
        self.factory = factory
        self.traffic = Traffic()
        self._threads: dict[tuple[str, str], str] = {}
        self._clients: dict[tuple[str, str], ChatKitClient] = {}

    def client(self, user: str, workflow: str) -> ChatKitClient:
        key = (user, workflow)
        if key not in self._clients:
            self._clients[key] = self.factory.open(user=user, workflow=workflow)
        return self._clients[key]

    def turn(self, user: str, workflow: str, message: str, *, fail: bool = False) -> None:
        """One user message (a new thread the first time for this user and workflow)."""
        client = self.client(user, workflow)
        before = len(self.fake.requests)
        if fail:
            self.fake.push(error(400, "Refused on purpose."))
        thread_id = self._threads.get((user, workflow))
        if thread_id is None:
            result = client.stream("threads.create", input=user_input(message))
            self._threads[(user, workflow)] = result.thread_id
        else:
            result = client.stream(
                "threads.add_user_message", thread_id=thread_id, input=user_input(message)
            )
        assert result.status_code == 200
        assert bool(result.of_type("error")) == fail, result.types()
        tokens: dict[str, tuple[int, int]] = {}
        for request in self.fake.requests[before:]:
            if request.api != "responses" or request.outcome != "completed":
                continue
            model = str(request.body["model"])
            spent_in, spent_out = reported_usage(request)
            old_in, old_out = tokens.get(model, (0, 0))
            tokens[model] = (old_in + spent_in, old_out + spent_out)
        self.traffic.turns.append(TurnDone(workflow, user, thread_id is None, fail, tokens))

    def refusal(self, user: str, workflow: str) -> None:
        """A session allowed one request a minute, asked twice: one 429."""
        client = self.factory.open(
            user=user, workflow=workflow, rate_limits={"max_requests_per_1_minute": 1}
        )
        assert client.request("threads.list", limit=1).status_code == 200
        assert client.request("threads.list", limit=1).status_code == 429
        self.traffic.refusals[workflow] += 1


@contextmanager
def traffic_on(server: KithostProcess, fake: FakeModelServer, run: str) -> Iterator[Traffic]:
    """The seeded traffic: three users, two workflows on two models, a failed run, a 429.

    ``run`` makes the user names unique to this test run.
    """
    fake.reset()
    fake.when(is_title_request, text("A short title"))
    with ChatFactory(server.url) as factory:
        maker = TrafficMaker(server, fake, factory)
        maker.turn(f"ada-{run}", ALPHA, "Hello there")
        maker.turn(f"ada-{run}", ALPHA, "And a second question")
        maker.turn(f"bob-{run}", ALPHA, "What can you do?")
        maker.turn(f"bob-{run}", BETA, "Summarise my week")
        maker.turn(f"cy-{run}", BETA, "This one fails", fail=True)
        maker.refusal(f"dee-{run}", BETA)
        yield maker.traffic


def usage(server: KithostProcess, key: str | None, **query: str) -> httpx.Response:
    headers = {"OpenAI-Beta": "chatkit_beta=v1"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.get(f"{server.url}{USAGE_PATH}", params=query, headers=headers, timeout=30)
