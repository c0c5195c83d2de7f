"""``POST /v1/moderations``, as OpenAI answers it, for tests of OpenAI-only moderation.

The scripted reply's text says which categories to flag, in the JSON kithost's own moderation
check asks a model for (``structured({"flagged_categories": ["violence"]})``), so one script
serves both paths; any other reply (the default echo) flags nothing.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.fake_model.recorded import ModelRequest
from tests.support.fake_model.replies import Reply
from tests.support.fake_model.wire import new_id

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def flagged_categories(reply: Reply) -> list[str]:
    try:
        answer = json.loads(reply.text)
    except ValueError:
        return []
    names = answer.get("flagged_categories") if isinstance(answer, dict) else None
    return [name for name in names if name in CATEGORIES] if isinstance(names, list) else []


def body(request: ModelRequest, reply: Reply) -> dict[str, Any]:
    flagged = flagged_categories(reply)
    inputs = request.body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    result = {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in CATEGORIES},
        "category_scores": {name: 0.99 if name in flagged else 0.001 for name in CATEGORIES},
        "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
    }
    return {"id": new_id("modr-"), "model": request.model, "results": [result] * count}
