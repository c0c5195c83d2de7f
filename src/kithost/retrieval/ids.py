"""Ids of files and vector stores in OpenAI's formats, so that imported hosted ids fit in."""

from __future__ import annotations

import re
import secrets
import string
import time

FILE_PREFIX = "file-"
STORE_PREFIX = "vs_"
BATCH_PREFIX = "vsfb_"

_BASE62 = string.ascii_letters + string.digits
# What a hosted id can look like: the prefix, then letters and digits (hex or base62).
_HOSTED = {
    FILE_PREFIX: re.compile(r"^file-[A-Za-z0-9]{1,64}$"),
    STORE_PREFIX: re.compile(r"^vs_[A-Za-z0-9]{1,64}$"),
    BATCH_PREFIX: re.compile(r"^vsfb_[A-Za-z0-9]{1,64}$"),
}


def file_id() -> str:
    """``file-`` and 22 base62 characters, as OpenAI's file ids."""
    return FILE_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(22))


def _timed(prefix: str) -> str:
    """The prefix, 8 hex digits of the time (ids sort by creation) and 24 random hex digits."""
    return f"{prefix}{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(12)}"


def store_id() -> str:
    return _timed(STORE_PREFIX)


def batch_id() -> str:
    return _timed(BATCH_PREFIX)


def looks_like(prefix: str, value: str) -> bool:
    """Whether ``value`` is shaped like an id of this kind (hosted or local)."""
    return bool(_HOSTED[prefix].fullmatch(value))
