"""OpenAI's rule for ``metadata`` (and the keys and values of file ``attributes``): at most 16
keys of up to 64 characters, string values of up to 512, no NUL characters."""

from __future__ import annotations

from typing import Any

from kithost.core.errors import InvalidRequest

MAX_KEYS = 16
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 512


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def check_keyed(value: Any, param: str) -> dict[Any, Any]:
    """An object of at most ``MAX_KEYS`` keys (``None`` is an empty one): the shape that
    metadata and attributes share; each checks its values itself."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    if len(value) > MAX_KEYS:
        raise _invalid(f"Invalid '{param}': at most {MAX_KEYS} keys are allowed.", param)
    return value


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    value = check_keyed(value, param)
    for key, item in value.items():
        check_key(key, param)
        if not isinstance(item, str):
            raise InvalidRequest(
                f"Invalid type for '{param}.{key}': expected a string.",
                param=f"{param}.{key}",
                code="invalid_type",
            )
        check_string(item, f"{param}.{key}")
    return dict(value)


def check_key(key: str, param: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise _invalid(
            f"Invalid '{param}': keys are at most {MAX_KEY_LENGTH} characters, '{key[:80]}' is "
            f"{len(key)}.",
            param,
        )
    if "\x00" in key:
        raise _invalid(f"Invalid '{param}': a key contains a NUL character.", param)


def check_string(item: Any, param: str) -> None:
    if isinstance(item, str):
        if len(item) > MAX_VALUE_LENGTH:
            raise _invalid(
                f"Invalid '{param}': values are at most {MAX_VALUE_LENGTH} characters.", param
            )
        if "\x00" in item:
            raise _invalid(f"Invalid '{param}': the string contains a NUL character.", param)
