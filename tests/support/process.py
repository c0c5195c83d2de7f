"""A real ``kithost serve`` process on a free port, as the tests' system under test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.ports import free_port

__all__ = ["ADMIN_KEY", "KithostProcess", "free_port"]

ADMIN_KEY = "sk-kh-test-admin-key-0123456789abcdefghijklmnopqrstuv"


class KithostProcess:
    """Start, stop, kill and restart one server; its output goes to ``workdir/server.log``."""

    def __init__(self, database_url: str, workdir: Path, env: dict[str, str] | None = None):
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KITHOST_")}
        env.update(
            KITHOST_DATABASE_URL=self.database_url,
            KITHOST_API_KEYS=ADMIN_KEY,
            KITHOST_DATA_DIR=str(self.workdir / "data"),
            KITHOST_LOG_LEVEL="warning",
            # Tests grep lines as people read them; tests/test_logs.py asks for JSON itself.
            KITHOST_LOG_FORMAT="text",
            OPENAI_AGENTS_DISABLE_TRACING="1",
            # Teardown should not wait out a slow answer; tests of the drain set their own.
            KITHOST_DRAIN_SECONDS="2",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0) -> KithostProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kithost", "serve", "--port", str(self.port)],
                cwd=self.workdir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kithost exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"kithost did not become ready:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def terminate(self) -> None:
        """SIGTERM without waiting: the server drains (KITHOST_DRAIN_SECONDS), then exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the server to exit on its own (after terminate()); its exit code."""
        assert self.proc is not None, "the server is not running"
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> KithostProcess:
        self.stop()
        return self.start()
