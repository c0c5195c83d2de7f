"""The ``kithost`` command as an operator runs it: each call a real subprocess on a fresh
database, checked against a running server that shares that database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from openai.types.beta.chatkit import ChatSession
from sqlalchemy import inspect

from kithost.store.database import create_engine
from tests.support.databases import BACKENDS, fresh_database
from tests.support.process import ADMIN_KEY, KithostProcess

FIRST_KEY_BANNER = "A new admin API key was made"
KEY_LINE = re.compile(r"^ {4}(sk-kh-\S+)$", re.MULTILINE)


class Cli:
    """Runs ``python -m kithost …`` against one database, from an empty working directory."""

    def __init__(self, database_url: str, workdir: Path):
        self.database_url = database_url
        self.workdir = workdir

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KITHOST_")}
        env.update(
            KITHOST_DATABASE_URL=self.database_url,
            KITHOST_DATA_DIR=str(self.workdir / "data"),
        )
        return subprocess.run(
            [sys.executable, "-m", "kithost", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(params=BACKENDS)
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a fresh database of each backend."""
    with fresh_database(str(request.param), tmp_path) as url:
        yield Cli(url, tmp_path)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a fresh SQLite database, for commands whose storage the API tests cover."""
    with fresh_database("sqlite", tmp_path) as url:
        yield Cli(url, tmp_path)


def sdk(server: KithostProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def table_names(database_url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_migrate_creates_the_schema_and_is_idempotent(cli: Cli) -> None:
    assert "sessions" not in table_names(cli.database_url)

    first = cli.ok("migrate")
    second = cli.ok("migrate")

    assert "database is up to date" in first
    assert "database is up to date" in second
    tables = table_names(cli.database_url)
    assert {"alembic_version", "api_keys", "sessions", "threads", "thread_items"} <= tables


def test_keys_create_list_revoke_against_a_running_server(
    cli: Cli, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(cli.database_url)
    created = cli.ok("keys", "create", "--name", "ci robot")
    key_id = created.split()[0]
    (key,) = KEY_LINE.findall(created)
    assert key_id.startswith("key_")

    with sdk(server, key) as client:
        assert client.beta.chatkit.threads.list(user="nobody").data == []

    listed = cli.ok("keys", "list")
    assert re.search(rf"^{key_id}\s+\S+\*{{4}}\S+\s+active\s+ci robot$", listed, re.MULTILINE)
    assert key not in listed

    assert cli.ok("keys", "revoke", key_id).strip() == f"revoked {key_id}"

    with sdk(server, key) as client, pytest.raises(openai.AuthenticationError) as caught:
        client.beta.chatkit.threads.list()
    assert caught.value.code == "invalid_api_key"
    with sdk(server, ADMIN_KEY) as client:
        assert client.beta.chatkit.threads.list(user="nobody").data == []

    again = cli.run("keys", "revoke", key_id)
    assert again.returncode == 1
    assert key_id in again.stderr
    assert re.search(rf"^{key_id}\s+\S+\s+revoked\s+ci robot$", cli.ok("keys", "list"), re.M)


def test_sessions_create_list_cancel(
    sqlite_cli: Cli, start_kithost: Callable[..., KithostProcess]
) -> None:
    cli = sqlite_cli
    user = f"user-{uuid.uuid4().hex}"
    printed = cli.ok("sessions", "create", "--user", user, "--expires-in", "120")
    session = ChatSession.model_validate(json.loads(printed), strict=True)
    assert session.user == user
    assert session.status == "active"
    assert session.workflow.id == "wf_kithost_demo"
    assert session.client_secret.startswith("ek_")
    assert session.expires_at == int(session.id[7:15], 16) + 120

    listed = cli.ok("sessions", "list", "--user", user).splitlines()
    assert [line.split()[:4] for line in listed] == [
        [session.id, "active", user, "wf_kithost_demo"]
    ]

    assert cli.ok("sessions", "cancel", session.id).split() == [session.id, "cancelled"]

    server = start_kithost(cli.database_url)
    with sdk(server, ADMIN_KEY) as client:
        seen = client.get(
            "/chatkit/sessions",
            cast_to=object,
            options={"headers": {"OpenAI-Beta": "chatkit_beta=v1"}, "params": {"user": user}},
        )
    assert isinstance(seen, dict)
    assert [(s["id"], s["status"]) for s in seen["data"]] == [(session.id, "cancelled")]


def test_sessions_errors_exit_nonzero(sqlite_cli: Cli) -> None:
    unknown = sqlite_cli.run("sessions", "create", "--user", "u", "--workflow", "wf_nope")
    assert unknown.returncode == 1
    assert "Workflow with id 'wf_nope' not found." in unknown.stderr

    bad_id = sqlite_cli.run("sessions", "cancel", "thr_123")
    assert bad_id.returncode == 1
    assert "Expected an ID that begins with 'cksess'" in bad_id.stderr


class NoConfiguredKeys(KithostProcess):
    """A server started with ``KITHOST_API_KEYS`` unset, as on a first install."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        del env["KITHOST_API_KEYS"]
        return env


def test_first_start_prints_a_key_once(cli: Cli) -> None:
    server = NoConfiguredKeys(cli.database_url, cli.workdir)
    try:
        server.start()
        first_output = server.log_path.read_text()
        assert first_output.count(FIRST_KEY_BANNER) == 1
        (key,) = KEY_LINE.findall(first_output)
        with sdk(server, key) as client:
            assert client.beta.chatkit.threads.list().data == []

        server.restart()
        second_output = server.log_path.read_text()[len(first_output) :]
        assert "kithost is serving on" in second_output
        assert FIRST_KEY_BANNER not in second_output
        assert KEY_LINE.findall(second_output) == []
        with sdk(server, key) as client:
            assert client.beta.chatkit.threads.list().data == []
    finally:
        server.stop()

    listed = cli.ok("keys", "list").splitlines()
    assert len(listed) == 1
    assert listed[0].split()[2] == "active"


@pytest.mark.parametrize(
    ("env", "told"),
    [
        ({"KITHOST_HOST": "0.0.0.0"}, "http://127.0.0.1:{port}"),
        (
            {"KITHOST_HOST": "0.0.0.0", "KITHOST_PUBLIC_URL": "https://chat.example.com/"},
            "https://chat.example.com",
        ),
    ],
    ids=["wildcard-bind", "public-url"],
)
def test_the_first_key_banner_names_an_address_clients_can_use(
    sqlite_cli: Cli, env: dict[str, str], told: str
) -> None:
    """Bound to every interface (as in the container image), the banner does not tell the
    backend to call 0.0.0.0: it names the loopback address, or KITHOST_PUBLIC_URL when set."""
    server = NoConfiguredKeys(sqlite_cli.database_url, sqlite_cli.workdir, env)
    try:
        server.start()
        output = server.log_path.read_text()
    finally:
        server.stop()
    expected = told.format(port=server.port)
    assert f'OpenAI(base_url="{expected}/v1"' in output
    assert f"kithost is serving on http://0.0.0.0:{server.port}" in output
