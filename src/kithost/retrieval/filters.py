"""Attribute filters of ``search`` (OpenAI's comparison and compound filters), and the checks on
attributes that OpenAI makes (core/metadata.py: 16 keys, 64-character keys, 512-character
values)."""

from __future__ import annotations

from typing import Any

from kithost.core.errors import InvalidRequest
from kithost.core.metadata import check_key, check_keyed, check_string
from kithost.retrieval.models import Attributes, AttributeValue

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUNDS = ("and", "or")
MAX_DEPTH = 8


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value is not None


def check_filter(value: Any, param: str = "filters", depth: int = 0) -> dict[str, Any]:
    """Refuse a malformed filter with a 400 that names the offending part."""
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    if depth > MAX_DEPTH:
        raise _invalid(f"Invalid '{param}': filters nest at most {MAX_DEPTH} levels.", param)
    kind = value.get("type")
    if kind in COMPOUNDS:
        filters = value.get("filters")
        if not isinstance(filters, list) or not filters:
            raise _invalid(
                f"Invalid '{param}.filters': expected a non-empty array of filters.",
                f"{param}.filters",
            )
        for n, inner in enumerate(filters):
            check_filter(inner, f"{param}.filters[{n}]", depth + 1)
        return value
    if kind not in COMPARISONS:
        raise _invalid(
            f"Invalid '{param}.type': expected one of {', '.join(COMPARISONS + COMPOUNDS)}.",
            f"{param}.type",
        )
    key = value.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidRequest(
            f"Missing required parameter: '{param}.key'.",
            param=f"{param}.key",
            code="missing_required_parameter",
        )
    operand = value.get("value")
    if kind in ("in", "nin"):
        if not isinstance(operand, list) or not all(_scalar(item) for item in operand):
            raise _invalid(
                f"Invalid '{param}.value': '{kind}' expects an array of strings or numbers.",
                f"{param}.value",
            )
    elif not _scalar(operand):
        raise _invalid(
            f"Invalid '{param}.value': expected a string, a number or a boolean.",
            f"{param}.value",
        )
    return value


def _comparable(left: AttributeValue, right: Any) -> bool:
    """Numbers compare with numbers, strings with strings; booleans only for (in)equality."""
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    numbers = (int, float)
    return (isinstance(left, numbers) and isinstance(right, numbers)) or (
        isinstance(left, str) and isinstance(right, str)
    )


def _equal(left: AttributeValue, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def matches(value: dict[str, Any], attributes: Attributes) -> bool:
    """Whether a file's attributes pass a (checked) filter. A missing key fails every
    comparison except ``ne`` and ``nin``."""
    kind = value["type"]
    if kind == "and":
        return all(matches(inner, attributes) for inner in value["filters"])
    if kind == "or":
        return any(matches(inner, attributes) for inner in value["filters"])
    operand = value["value"]
    if value["key"] not in attributes:
        return kind in ("ne", "nin")
    actual = attributes[value["key"]]
    if kind == "eq":
        return _equal(actual, operand)
    if kind == "ne":
        return not _equal(actual, operand)
    if kind == "in":
        return any(_equal(actual, item) for item in operand)
    if kind == "nin":
        return not any(_equal(actual, item) for item in operand)
    if not _comparable(actual, operand):
        return False
    if kind == "gt":
        return bool(actual > operand)
    if kind == "gte":
        return bool(actual >= operand)
    if kind == "lt":
        return bool(actual < operand)
    return bool(actual <= operand)


def check_attributes(value: Any, param: str = "attributes") -> Attributes:
    value = check_keyed(value, param)
    for key, item in value.items():
        check_key(key, param)
        if not _scalar(item):
            raise _invalid(
                f"Invalid '{param}.{key}': expected a string, a number or a boolean.",
                f"{param}.{key}",
            )
        check_string(item, f"{param}.{key}")
    return dict(value)
