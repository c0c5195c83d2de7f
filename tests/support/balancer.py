"""A real load balancer (Debian's HAProxy) in front of kithost processes, for tests and bench/.

Round robin over the backends, one decision per request; responses stream through unbuffered
(SSE), with long idle timeouts for slow answers. A health check on ``/healthz`` takes a draining
process (503) out of the rotation, and a request whose connection is refused (a killed process)
goes to another backend. Each response says which backend answered in ``X-Kithost-Backend``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.support.ports import free_port

__all__ = ["BACKEND_HEADER", "HAPROXY", "Backend", "Balancer", "haproxy_config"]

# Installed by the Makefile (like Chromium): Debian's package.
HAPROXY = "/usr/sbin/haproxy"
BACKEND_HEADER = "X-Kithost-Backend"


@dataclass(frozen=True)
class Backend:
    """One kithost process behind the balancer; ``name`` is what ``X-Kithost-Backend`` says."""

    name: str
    port: int
    host: str = "127.0.0.1"


def haproxy_config(
    port: int,
    backends: Sequence[Backend],
    *,
    check_interval_ms: int = 500,
    idle_timeout_s: int = 600,
) -> str:
    """An HAProxy configuration: listen on ``127.0.0.1:port``, round robin over ``backends``."""
    servers = "\n".join(
        # fall 1: one failed check (a 503 while draining) takes the process out at once.
        f"    server {b.name} {b.host}:{b.port} check inter {check_interval_ms} fall 1 rise 2"
        for b in backends
    )
    return f"""\
global
    maxconn 2000

defaults
    mode http
    # Client-side keep-alive, a new server connection per request: every request is balanced.
    option http-server-close
    timeout connect 5s
    # An answer streams for minutes, with pauses: long idle timeouts on both sides.
    timeout client {idle_timeout_s}s
    timeout server {idle_timeout_s}s
    timeout http-keep-alive 10s
    timeout check 2s
    # A refused connection (a killed process) is retried on another server.
    retries 2
    option redispatch 1

frontend kithost
    bind 127.0.0.1:{port}
    default_backend kithost

backend kithost
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Which process answered (%s: the server's name): tests tell the processes apart by it.
    http-response set-header {BACKEND_HEADER} %s
{servers}
"""


class Balancer:
    """HAProxy as a child process with a generated configuration in ``workdir``; stop() ends it."""

    def __init__(self, backends: Sequence[Backend], workdir: Path, binary: str = HAPROXY):
        self.backends = list(backends)
        self.workdir = workdir
        self.binary = binary
        self.port = free_port()
        self.config_path = workdir / f"haproxy-{self.port}.cfg"
        self.log_path = workdir / f"haproxy-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> Balancer:
        if shutil.which(self.binary) is None:
            raise RuntimeError(f"{self.binary} is missing: `make test` installs it (haproxy)")
        self.config_path.write_text(haproxy_config(self.port, self.backends))
        check = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(self.config_path)], capture_output=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected its configuration:\n{check.stderr.decode()}")
        with self.log_path.open("ab") as log:
            # -db: stay in the foreground, as our child, so stop() ends exactly this process.
            self.proc = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config_path)],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited early:\n{self.log_path.read_text()}")
            if _accepts(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"haproxy did not start listening:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
