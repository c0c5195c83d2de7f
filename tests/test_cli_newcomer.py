"""The command line as a newcomer meets it (issue 12): the first key's banner, a pid file that
leaves with the server, lookups that say which database they read, and an import that never
borrows the model provider's OpenAI variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_database
from tests.support.process import ADMIN_KEY, KithostProcess, free_port

UNKNOWN_THREAD = "cthr_6900000000000000000000000000000000000000000000"


def run_cli(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m kithost …`` from ``workdir`` with only the given kithost/OpenAI variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KITHOST_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "kithost", *args],
        cwd=workdir,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class FirstStart(KithostProcess):
    """A server with ``KITHOST_API_KEYS`` unset, as on a first install."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        del env["KITHOST_API_KEYS"]
        return env


def test_first_key_banner_names_the_backends_variable(database_url: str, tmp_path: Path) -> None:
    server = FirstStart(database_url, tmp_path).start()
    try:
        log = server.log_path.read_text()
        key = log.split("export KITHOST_ADMIN_KEY=", 1)[1].split()[0]
        assert 'api_key=os.environ["KITHOST_ADMIN_KEY"]' in log
        assert "KITHOST_API_KEYS" in log  # the server's own setting, named as different
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
            assert client.beta.chatkit.threads.list().data == []
    finally:
        server.stop()


def test_the_pid_file_leaves_with_the_server(
    database_url: str, start_kithost: Callable[..., KithostProcess]
) -> None:
    server = start_kithost(database_url)
    data = server.workdir / "data"
    pid_file = data / "kithost.pid"
    assert server.proc is not None
    process = server.proc
    assert pid_file.read_text() == str(process.pid)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM  # a clean exit, not a crash
    server.proc = None

    assert not pid_file.exists()
    reload = run_cli(server.workdir, "workflows", "reload", KITHOST_DATA_DIR=str(data))
    assert reload.returncode == 1
    assert "no running kithost found" in reload.stderr


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """The environment naming a database that holds nothing, and how the CLI should show it."""
    if backend == "sqlite":
        # The default: var/kithost.db under the folder the command runs from.
        yield {}, f"sqlite+aiosqlite:///{tmp_path.resolve() / 'var' / 'kithost.db'}"
        return
    with fresh_database(backend, tmp_path) as url:
        yield {"KITHOST_DATABASE_URL": url}, make_url(url).render_as_string(hide_password=True)


def test_lookups_that_find_nothing_name_the_database(
    empty_database: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, shown = empty_database

    traces = run_cli(tmp_path, "traces", UNKNOWN_THREAD, **env)
    assert traces.returncode == 1
    assert f"No thread found with id '{UNKNOWN_THREAD}' (database: {shown};" in traces.stderr

    sessions = run_cli(tmp_path, "sessions", "list", **env)
    assert sessions.returncode == 0
    assert sessions.stdout == ""
    assert f"No sessions (database: {shown};" in sessions.stderr

    keys = run_cli(tmp_path, "keys", "list", **env)
    assert keys.returncode == 0
    assert f"No admin keys made by kithost (database: {shown};" in keys.stderr


def test_import_reads_its_own_variables_never_the_providers(
    server: KithostProcess, tmp_path: Path
) -> None:
    """The model provider's OPENAI_* variables point elsewhere; the import ignores them."""
    provider = {
        "OPENAI_API_KEY": "sk-meant-for-the-model-provider",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    data = {"KITHOST_DATA_DIR": str(tmp_path / "data")}

    without_key = run_cli(
        tmp_path, "import", "--base-url", f"{server.url}/v1", "--dry-run", **provider, **data
    )
    assert without_key.returncode == 2
    assert "pass --api-key, or set KITHOST_IMPORT_API_KEY" in without_key.stderr

    own = {"KITHOST_IMPORT_API_KEY": ADMIN_KEY, "KITHOST_IMPORT_BASE_URL": f"{server.url}/v1"}
    dry = run_cli(tmp_path, "import", "--dry-run", **provider, **own, **data)
    assert dry.returncode == 0, dry.stderr
    assert f"Source: {server.url}/v1" in dry.stdout
    assert "Dry run: nothing was written." in dry.stdout


def test_import_defaults_to_openai_not_openai_base_url(tmp_path: Path) -> None:
    """Without --base-url the source is OpenAI's API, whatever OPENAI_BASE_URL says: the help
    says so, and the value is not taken from the provider's variable."""
    help_text = run_cli(tmp_path, "import", "--help", TYPER_USE_RICH="0").stdout
    assert "https://api.openai.com/v1" in help_text
    assert "KITHOST_IMPORT_API_KEY" in help_text
    unreachable = f"http://127.0.0.1:{free_port()}/v1"
    # The import's own variable wins over the provider's; both are closed ports here, and the
    # error names the one that was tried.
    run = run_cli(
        tmp_path,
        "import",
        "--dry-run",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        KITHOST_IMPORT_BASE_URL=unreachable,
        KITHOST_IMPORT_API_KEY="sk-source",
    )
    assert run.returncode == 2
    assert unreachable in run.stderr
    assert "127.0.0.1:9/" not in run.stderr
