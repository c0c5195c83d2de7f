"""Running the fake: in a background thread (tests) or in its own process (benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Self

import httpx
import uvicorn

from tests.support.fake_model.app import FakeModelApp
from tests.support.fake_model.recorded import ModelRequest, echo
from tests.support.fake_model.script import Responder, Rule, Script
from tests.support.process import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


class _Server(uvicorn.Server):
    """Ends the app's in-flight replies first, so hung streams never hold up shutdown."""

    def __init__(self, config: uvicorn.Config, app: FakeModelApp) -> None:
        super().__init__(config)
        self.fake_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.fake_app.close()
        await super().shutdown(sockets=sockets)


def uvicorn_server(app: FakeModelApp, **options: Any) -> uvicorn.Server:
    """A quiet uvicorn for the fake: no lifespan, no websockets, no access log."""
    config = uvicorn.Config(
        app,
        lifespan="off",
        ws="none",
        access_log=False,
        timeout_graceful_shutdown=2,
        **options,
    )
    return _Server(config, app)


class FakeModelServer:
    """The scriptable fake on 127.0.0.1 and a free port, served from a background thread.

    ``with FakeModelServer() as fake:`` then point a client at ``fake.base_url``, script with
    ``fake.push(...)`` / ``fake.when(...)`` and assert on ``fake.requests``.
    """

    def __init__(
        self,
        *,
        default: Responder = echo,
        models: Sequence[str] = ("gpt-fake",),
        validate: bool = True,
    ) -> None:
        self.script = Script(default)
        self.models = models
        self.validate = validate
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:PORT/v1``, for ``AsyncOpenAI(base_url=…)``."""
        if self.port is None:
            raise RuntimeError("the fake model server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        app = FakeModelApp(self.script, self.models, self.validate)
        self._server = uvicorn_server(app, loop="asyncio", log_config=None)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-model-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake model server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving; replies still hanging are cut off (recorded as ``stopped``)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Scripting and recording, delegated to the script (see Script for details).

    def push(self, *replies: Responder) -> None:
        self.script.push(*replies)

    def when(
        self,
        predicate: Callable[[ModelRequest], bool],
        reply: Responder,
        *,
        times: int | None = None,
    ) -> Rule:
        return self.script.when(predicate, reply, times=times)

    @property
    def requests(self) -> list[ModelRequest]:
        return self.script.requests

    @property
    def pending(self) -> int:
        return self.script.pending

    def reset(self) -> None:
        self.script.reset()

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[ModelRequest]:
        return self.script.wait_for_requests(count, timeout)

    async def wait_for_requests_async(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a lost wait must not eat the test timeout
    ) -> list[ModelRequest]:
        return await self.script.wait_for_requests_async(count, timeout)


class FakeModelProcess:
    """The fake as ``python -m tests.support.fake_model`` in its own process, so a benchmark's
    load generator and the fake don't share a GIL. Configured by its options, not scriptable:
    every request gets ``tokens`` tokens (0: endless), one per ``token_interval`` seconds."""

    def __init__(
        self,
        *,
        tokens: int = 20,
        token_interval: float = 0.0,
        first_token_delay: float = 0.0,
        echo: bool = False,
    ) -> None:
        self.port = free_port()
        self.options = [
            f"--tokens={tokens}",
            f"--token-interval-ms={token_interval * 1000:g}",
            f"--first-token-delay-ms={first_token_delay * 1000:g}",
            *(["--echo"] if echo else []),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 20.0) -> Self:
        command = [sys.executable, "-m", "tests.support.fake_model", f"--port={self.port}"]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            command + self.options, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail("exited early")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self._fail("did not become ready")

    def requests(self) -> list[dict[str, Any]]:
        """The recorded requests (``api``, ``path``, ``outcome``, ``body``), fetched over HTTP."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/_fake/requests", timeout=10)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def output(self) -> str:
        """What the process printed so far (empty once stopped)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def _fail(self, what: str) -> NoReturn:
        output = self.output()
        self.stop()
        raise RuntimeError(f"the fake model process {what}:\n{output}")

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
