"""``KITHOST_DRAIN_NOTICE_SECONDS``: after SIGTERM a process says ``draining`` on ``/healthz``
at once but goes on serving for the notice period, so a load balancer takes it out before its
port closes; without a notice an idle process exits at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import openai

from kithost.pid_file import SIGTERM_EXIT_CODE
from tests.support.process import ADMIN_KEY, KithostProcess

NOTICE_SECONDS = 4.0


def test_a_stopping_process_serves_through_its_notice_then_exits(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(database_url, KITHOST_DRAIN_NOTICE_SECONDS=str(NOTICE_SECONDS))
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    server.terminate()
    signalled = time.monotonic()
    health = httpx.get(f"{server.url}/healthz")
    while health.status_code == 200:
        health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "draining", "runs": 0}

    # Still serving: a backend's request that the balancer sent before it noticed succeeds.
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, max_retries=0) as sdk:
        session = sdk.beta.chatkit.sessions.create(
            user="user-during-notice", workflow={"id": "wf_kithost_demo"}
        )
    assert session.client_secret

    assert server.wait_exit(timeout=60) == SIGTERM_EXIT_CODE
    assert time.monotonic() - signalled >= NOTICE_SECONDS


def test_without_a_notice_an_idle_process_exits_at_once(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(database_url, KITHOST_DRAIN_SECONDS="30")
    server.terminate()
    signalled = time.monotonic()
    assert server.wait_exit(timeout=60) == SIGTERM_EXIT_CODE
    # Nothing to drain and no notice: it does not wait out KITHOST_DRAIN_SECONDS.
    assert time.monotonic() - signalled < 30
