"""The processes a benchmark starts: kithost (the tests' ``KithostProcess``), the fake model
(``FakeModelProcess``), and the anchors; all on 127.0.0.1, all stopped on exit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
from tests.support.fake_model import FakeModelProcess
from tests.support.process import ADMIN_KEY, KithostProcess, free_port

from bench.databases import fresh_database

REPO_ROOT = Path(__file__).resolve().parents[1]
# BENCH_CPROFILE_DIR=<folder>: every kithost server runs under cProfile (cprofile_hook/).
PROFILE_DIR = os.environ.get("BENCH_CPROFILE_DIR")
PROFILE_HOOK = Path(__file__).resolve().parent / "cprofile_hook"
CONTROL_HEADERS = {
    "Authorization": f"Bearer {ADMIN_KEY}",
    "OpenAI-Beta": "chatkit_beta=v1",
    "Content-Type": "application/json",
}
FAKE_MODEL = "gpt-fake"

__all__ = [
    "ADMIN_KEY",
    "CONTROL_HEADERS",
    "FAKE_MODEL",
    "AnchorProcess",
    "FakeModelProcess",
    "KithostProcess",
    "kithost",
    "rss_bytes",
    "workflow_folder",
]


class AnchorProcess:
    """``python -m bench.anchors.<name> --port N …``, ready once ``health_path`` answers."""

    def __init__(self, module: str, *args: str, health_path: str = "/healthz") -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", f"bench.anchors.{module}", f"--port={self.port}"]
        self.command += list(args)
        self.health_path = health_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> Self:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            self.command, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        output = self.output()
        self.stop()
        raise RuntimeError(f"{' '.join(self.command)} did not start:\n{output}")

    def output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@asynccontextmanager
async def kithost(
    backend: str, workdir: Path, env: dict[str, str] | None = None, name: str = "kithost"
) -> AsyncIterator[KithostProcess]:
    """``kithost serve`` on a fresh ``backend`` database (dropped afterwards); ``name`` names
    its profile under ``BENCH_CPROFILE_DIR``."""
    async with fresh_database(backend, workdir) as database_url:
        folder = workdir / f"kithost-{backend}-{free_port()}"
        folder.mkdir(parents=True)
        process = KithostProcess(database_url, folder, env)
        if PROFILE_DIR:
            _profiled(process, Path(PROFILE_DIR) / f"{name}-{backend}-{process.port}.prof")
        process = await asyncio.to_thread(process.start, 60)
        try:
            yield process
        finally:
            await asyncio.to_thread(process.stop)


def _profiled(process: KithostProcess, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    env = process.extra_env = dict(process.extra_env)  # not the caller's dict
    paths = [str(PROFILE_HOOK), env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))]
    env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    env["BENCH_CPROFILE"] = str(output)


def workflow_folder(root: Path, workflow_id: str) -> Path:
    """A workflows folder with one declarative workflow on the fake model (docs/workflows.md)."""
    folder = root / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.yaml").write_text(
        f"id: {workflow_id}\n"
        "name: Bench assistant\n"
        f"model: {FAKE_MODEL}\n"
        "instructions: You are a helpful assistant.\n",
        encoding="utf-8",
    )
    return folder


def model_env(fake: FakeModelProcess, folder: Path) -> dict[str, str]:
    """kithost's environment for ``folder``'s workflows answered by ``fake``."""
    return {
        "KITHOST_WORKFLOWS_DIR": str(folder),
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "bench",
        "KITHOST_MODEL_API": "chat_completions",
    }


def rss_bytes(pid: int) -> int:
    """The resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def pid_of(process: KithostProcess | AnchorProcess) -> int:
    """The serving process (``kithost serve`` with one worker serves in its own process)."""
    assert process.proc is not None, "not started"
    return process.proc.pid
