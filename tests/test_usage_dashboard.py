"""``GET /v1/chatkit/usage`` (issue 17's Overview): after real conversations through kithost on
the fake model, its totals and series are what was done, on SQLite and PostgreSQL.

Tokens are the usage the fake reported for each model request (workflows' and titles'),
messages the user messages sent, active users the distinct senders, errors the failed runs,
refusals the 429s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.chatkit_client import ChatFactory
from tests.support.fake_model import FakeModelServer
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.usage_seeding import (
    ALPHA,
    BETA,
    MODELS,
    Traffic,
    TrafficMaker,
    traffic_on,
    usage,
    usage_env,
)
from tests.support.workflow_files import serving

TOTALS = ("conversations", "messages", "active_users", "runs", "failed_runs", "refusals")
TOKEN_TOTALS = ("input_tokens", "output_tokens")


@pytest.fixture(scope="module")
def usage_server(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("usage")
    with serving(database_url, workdir, usage_env(fake, workdir / "workflows")) as process:
        yield process


@pytest.fixture(scope="module")
def traffic(usage_server: KithostProcess, fake: FakeModelServer) -> Iterator[Traffic]:
    with traffic_on(usage_server, fake, uuid.uuid4().hex[:8]) as seeded:
        yield seeded


def read(server: KithostProcess, **query: str) -> dict[str, Any]:
    response = usage(server, ADMIN_KEY, **query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def check_totals(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    totals = answer["totals"]
    for name in (*TOTALS, *TOKEN_TOTALS):
        assert totals[name] == expected[name], (name, totals, expected)
    found = {
        (entry["workflow_id"], entry["model"]): (entry["input_tokens"], entry["output_tokens"])
        for entry in answer["tokens"]
    }
    assert found == expected["tokens"]
    # Every series adds up to its total (active users excepted: distinct over the range).
    for name in ("conversations", "messages", "runs", "failed_runs"):
        assert sum(answer[name]) == totals[name], name
    if expected["refusals"] is None:
        assert answer["refusals"] is None
    else:
        assert sum(answer["refusals"]) == totals["refusals"]
    for entry in answer["tokens"]:
        assert sum(entry["input_tokens_series"]) == entry["input_tokens"]
        assert sum(entry["output_tokens_series"]) == entry["output_tokens"]


def test_totals_are_what_was_done(usage_server: KithostProcess, traffic: Traffic) -> None:
    expected = traffic.expected()
    assert expected["input_tokens"] > 0
    assert expected["output_tokens"] > 0
    assert {model for _, model in expected["tokens"]} == set(MODELS.values())
    answer = read(usage_server, range="24h")
    check_totals(answer, expected)
    assert answer["object"] == "chatkit.usage"
    assert answer["bucket_seconds"] == 3600
    assert len(answer["buckets"]) == 24
    assert answer["buckets"][-1] <= time.time() < answer["buckets"][-1] + 3600
    # Everything happened just now: in the newest bucket.
    assert answer["messages"][-1] == expected["messages"]
    assert answer["totals"]["error_rate"] == pytest.approx(1 / 5, abs=1e-4)
    # Four runs wrote text; each has a time to first token.
    p50, p95 = answer["time_to_first_token"]["p50"][-1], answer["time_to_first_token"]["p95"][-1]
    assert p50 is not None
    assert p95 is not None
    assert 0 < p50 <= p95
    assert answer["totals"]["time_to_first_token_p95"] == p95
    assert {entry["workflow_id"]: entry["runs"] for entry in answer["workflows"]} == {
        ALPHA: 3,
        BETA: 2,
    }


@pytest.mark.parametrize(("name", "buckets"), [("7d", 7), ("30d", 30)])
def test_daily_ranges_count_the_same(
    usage_server: KithostProcess, traffic: Traffic, name: str, buckets: int
) -> None:
    answer = read(usage_server, range=name)
    assert answer["bucket_seconds"] == 86400
    assert len(answer["buckets"]) == buckets
    assert answer["buckets"][0] % 86400 == 0
    check_totals(answer, traffic.expected())


def test_drill_down_by_workflow_and_user(usage_server: KithostProcess, traffic: Traffic) -> None:
    for workflow in (ALPHA, BETA):
        answer = read(usage_server, range="24h", workflow_id=workflow)
        assert answer["workflow_id"] == workflow
        check_totals(answer, traffic.expected(workflow=workflow))
        # The workflow list ignores its own filter, so the console can switch.
        assert {entry["workflow_id"] for entry in answer["workflows"]} == {ALPHA, BETA}
    bob = traffic.turns[2].user
    answer = read(usage_server, range="7d", user=bob)
    check_totals(answer, traffic.expected(user=bob))
    assert answer["totals"]["conversations"] == 2
    assert answer["refusals"] is None  # not kept per user
    both = read(usage_server, range="24h", workflow_id=BETA, user=bob)
    check_totals(both, traffic.expected(workflow=BETA, user=bob))
    nobody = read(usage_server, range="24h", user="nobody-at-all")
    assert nobody["totals"]["messages"] == 0
    assert nobody["tokens"] == []


def test_bad_parameters_are_4xx(usage_server: KithostProcess) -> None:
    refused = usage(usage_server, ADMIN_KEY, range="1y")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "range"
    assert usage(usage_server, ADMIN_KEY, workflow_id="").status_code == 400
    assert usage(usage_server, ADMIN_KEY, user="x" * 600).status_code == 400
    assert usage(usage_server, ADMIN_KEY, user="a\x00b").status_code == 400
    assert usage(usage_server, ADMIN_KEY, workflow_id="wf\x00").status_code == 400
    assert usage(usage_server, None).status_code == 401
    assert usage(usage_server, "sk-wrong").status_code == 401


def test_an_erased_user_takes_their_usage_along(
    usage_server: KithostProcess, fake: FakeModelServer, traffic: Traffic
) -> None:
    """Erasure deletes the user's runs; their per-model usage goes with them (the foreign key
    cascades on both databases) and the totals fall back to the seeded traffic's."""
    before = read(usage_server, range="24h", workflow_id=ALPHA)
    with ChatFactory(usage_server.url) as factory:
        extra = TrafficMaker(usage_server, fake, factory)
        extra.turn(f"erased-{uuid.uuid4().hex[:8]}", ALPHA, "Forget me afterwards")
    done = extra.traffic.turns[0]
    ((spent_in, spent_out),) = done.tokens.values()
    grown = read(usage_server, range="24h", workflow_id=ALPHA)
    assert grown["totals"]["messages"] == before["totals"]["messages"] + 1
    assert grown["totals"]["input_tokens"] == before["totals"]["input_tokens"] + spent_in
    assert grown["totals"]["output_tokens"] == before["totals"]["output_tokens"] + spent_out
    erased = httpx.delete(
        f"{usage_server.url}/v1/chatkit/users/{done.user}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "OpenAI-Beta": "chatkit_beta=v1"},
        timeout=30,
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["runs"] == 1
    after = read(usage_server, range="24h", workflow_id=ALPHA)
    check_totals(after, traffic.expected(workflow=ALPHA))
    assert read(usage_server, range="24h", user=done.user)["tokens"] == []
