"""Who runs a run: a name for this process, and whether a named process is certainly gone.

A lapsed lease is the general rule for a dead owner. A restarted server on the same machine can
know sooner: same host, same PID namespace, and that PID no longer exists.
"""

from __future__ import annotations

import os
import secrets
import socket


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def this_process() -> str:
    """``host:pid-namespace:pid:random`` (random: a PID is reused, an owner name never)."""
    return f"{socket.gethostname()}:{_pid_namespace()}:{os.getpid()}:{secrets.token_hex(3)}"


def certainly_gone(owner: str | None) -> bool:
    """Whether the owner is a process of this machine and namespace that no longer exists."""
    if not owner:
        return False
    host, namespace, pid, _ = [*owner.split(":"), "", "", ""][:4]
    if host != socket.gethostname() or namespace != _pid_namespace() or namespace == "-":
        return False
    try:
        number = int(pid)
    except ValueError:
        return False
    if number == os.getpid():
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, as another user's process
    return False
