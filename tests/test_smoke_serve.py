"""The server starts on both backends and answers health and session creation."""

from __future__ import annotations

import httpx
import openai

from tests.support.process import KithostProcess


def test_healthz(server: KithostProcess) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")


def test_create_session_with_python_sdk(admin: openai.OpenAI) -> None:
    session = admin.beta.chatkit.sessions.create(user="smoke", workflow={"id": "wf_kithost_demo"})
    assert session.status == "active"
    assert session.client_secret.startswith("ek_")
