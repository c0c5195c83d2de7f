"""Does kithost render an imported item as the source did? Checked on every item.

The stored item is rendered by kithost's own REST view (``ItemRecord.to_wire``) and compared,
field by field, with what the source sent. Differences are not errors (the item is imported);
they are listed in the summary so that nothing changes silently. Expected ones are left out: a
copied attachment's preview link (it is kithost's now) and JSON strings that only differ in
formatting (``widget``, ``arguments``, ``output``).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from kithost.core.threads import ItemRecord, ThreadRecord

Json = dict[str, Any]
_JSON_STRINGS = frozenset({"widget", "arguments", "output"})


def item_differences(record: ItemRecord, rest: Json, copied: Collection[str] = ()) -> list[str]:
    """``path: source → kithost`` for each rendered field that differs from the source's."""
    rendered = record.to_wire()
    if rendered is None:
        return ["the item has no REST form in kithost"]
    found: list[str] = []
    for key, value in rendered.items():
        if key == "attachments":
            _attachments(rest.get(key), value, copied, found)
        elif key in _JSON_STRINGS:
            if not _same_json(rest.get(key), value):
                found.append(_line(key, rest.get(key), value))
        else:
            _compare(key, rest.get(key), value, found)
    return found


def thread_differences(record: ThreadRecord, rest: Json) -> list[str]:
    found: list[str] = []
    for key, value in record.to_wire().items():
        _compare(key, rest.get(key), value, found)
    return found


def _attachments(
    source: Any, rendered: list[Json], copied: Collection[str], found: list[str]
) -> None:
    if not isinstance(source, list) or len(source) != len(rendered):
        found.append(_line("attachments", source, rendered))
        return
    for index, (theirs, ours) in enumerate(zip(source, rendered, strict=True)):
        for key, value in ours.items():
            if key == "preview_url" and ours.get("id") in copied:
                continue
            _compare(f"attachments[{index}].{key}", theirs.get(key), value, found)


def _compare(path: str, source: Any, ours: Any, found: list[str]) -> None:
    if isinstance(source, dict) and isinstance(ours, dict):
        for key, value in ours.items():
            _compare(f"{path}.{key}", source.get(key), value, found)
    elif isinstance(source, list) and isinstance(ours, list) and len(source) == len(ours):
        for index, (theirs, mine) in enumerate(zip(source, ours, strict=True)):
            _compare(f"{path}[{index}]", theirs, mine, found)
    elif source != ours:
        found.append(_line(path, source, ours))


def _same_json(source: Any, ours: Any) -> bool:
    if source == ours:
        return True
    if not isinstance(source, str) or not isinstance(ours, str):
        return False
    try:
        return bool(json.loads(source) == json.loads(ours))
    except ValueError:
        return False


def _line(path: str, source: Any, ours: Any) -> str:
    return f"{path}: {_short(source)} → {_short(ours)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
