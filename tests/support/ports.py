"""Ports for servers that a test starts in another process, unique across parallel test runs.

A port found free is handed to a child process (``kithost serve --port N``, the MCP server)
that binds it a second or more later. With pytest-xdist workers, and other test runs on the
same machine, starting servers all the time, the kernel's ``bind(0)`` may give two of them the
same port within that window; an outgoing connection may also take it as its source port.
So these ports come from below Linux's ephemeral range (where neither ``bind(0)`` nor
``connect`` picks ports) and each is claimed, for a while, in a file every test process shares.
Servers that bind port 0 and keep the socket (the fake model, page servers) need none of this.
"""

from __future__ import annotations

import fcntl
import json
import random
import socket
import tempfile
import time
from pathlib import Path

# Below the default ephemeral range, 32768-60999 (/proc/sys/net/ipv4/ip_local_port_range).
PORTS = range(20000, 32768)
# Long enough for a slow start on a loaded machine and for a port used as "nothing listens here"
# during a test; short enough that claims never pile up.
CLAIM_SECONDS = 600.0
CLAIMS = Path(tempfile.gettempdir()) / "kithost-test-ports.json"


def free_port() -> int:
    """A port nothing listens on now and no other test process has been given lately."""
    with CLAIMS.open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
        file.seek(0)
        now = time.time()
        claims = {port: until for port, until in _read(file.read()).items() if until > now}
        while True:
            port = random.choice(PORTS)  # noqa: S311 - spreading, not secrecy
            if port not in claims and _bindable(port):
                break
        claims[port] = now + CLAIM_SECONDS
        file.seek(0)
        file.truncate()
        file.write(json.dumps({str(port): until for port, until in claims.items()}))
        return port


def _read(text: str) -> dict[int, float]:
    try:
        return {int(port): float(until) for port, until in json.loads(text).items()}
    except (ValueError, AttributeError):
        return {}  # new (empty) or cut short by a killed process: start over


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
