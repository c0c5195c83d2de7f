"""Small helpers the browser tests share: unique names, and waiting for a server-side effect."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable


def unique(name: str) -> str:
    """``name`` made unique to this test run (the tests share one server and database)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def eventually[T](check: Callable[[], T | None], seconds: float = 60.0) -> T:
    """Poll ``check`` until it returns something other than None; fail after ``seconds``.

    Unlike ``chatkit_client.wait_until``, a falsy result (``0``, ``[]``, ``False``) counts.
    """
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the expected state was never reached")
        time.sleep(0.1)
