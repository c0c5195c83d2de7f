"""JSON responses for wire dicts, serialised by pydantic-core.

A route that returns a dict has FastAPI run ``jsonable_encoder`` over it and then ``json.dumps``:
~130 µs for a session, the largest single cost of ``sessions.create`` after the database. The
wire shapes are plain JSON already (``to_wire()``), so the hot routes hand them to pydantic-core's
serialiser (~4 µs) and return the response themselves.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from starlette.responses import Response


class WireJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)
