"""Identifiers in the hosted API's formats.

Real hosted ids are a prefix, 8 hex digits of the creation time in Unix seconds (big-endian), and
40 random hex digits, so they sort roughly by creation time (hosted-api.md §1.4).
"""

from __future__ import annotations

import secrets
import time

SESSION_PREFIX = "cksess_"
THREAD_PREFIX = "cthr_"
ITEM_PREFIX = "cti_"
ATTACHMENT_PREFIX = "cfile_"
WORKFLOW_PREFIX = "wf_"


def new_id(prefix: str, now: float | None = None) -> str:
    """Return ``prefix`` + 8 hex digits of the time + 40 random hex digits."""
    stamp = int(time.time() if now is None else now) & 0xFFFFFFFF
    return f"{prefix}{stamp:08x}{secrets.token_hex(20)}"


def session_id() -> str:
    return new_id(SESSION_PREFIX)


def thread_id() -> str:
    return new_id(THREAD_PREFIX)


def item_id() -> str:
    return new_id(ITEM_PREFIX)


def attachment_id() -> str:
    return new_id(ATTACHMENT_PREFIX)
