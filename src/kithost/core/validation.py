"""Turn pydantic validation failures into OpenAI-style 400 errors (message, param, code)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, Field, StrictStr, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from kithost.core.errors import InvalidRequest, missing_parameter

ModelT = TypeVar("ModelT", bound=BaseModel)

_JSON_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    dict: "an object",
    list: "an array",
    type(None): "null",
}

_EXPECTED_BY_ERROR = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "float_type": "a number",
    "float_parsing": "a number",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
}


NUL_ERROR = "string_contains_nul"


def contains_nul(value: str) -> bool:
    """True when ``value`` holds a NUL character, which PostgreSQL cannot store in text or JSON."""
    return "\x00" in value


def nul_error(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': the string contains a NUL character (\\u0000), which is not allowed.",
        param=param,
        code="invalid_value",
    )


def check_text(value: str | None, param: str) -> None:
    """Refuse a query or path value that no stored object can hold (a NUL character)."""
    if value is not None and contains_nul(value):
        raise nul_error(param)


def _no_nul(value: str) -> str:
    if contains_nul(value):
        raise PydanticCustomError(NUL_ERROR, "the string contains a NUL character")
    return value


# A required string field of a request body: strict (no coercion), storable on every backend.
NonEmptyText = Annotated[StrictStr, Field(min_length=1), AfterValidator(_no_nul)]


def _json_type(value: object) -> str:
    for python_type, name in _JSON_TYPE_NAMES.items():
        if type(value) is python_type:
            return name
    return "an unsupported value"


def _param_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in str(part) or part in ("str", "int", "bool", "float"):
            # pydantic names union members in the location; they are not part of the JSON path.
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def error_from_details(error: ErrorDetails) -> InvalidRequest:
    """Map one pydantic error to the OpenAI wording for the same mistake."""
    param = _param_path(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return missing_parameter(param)
    if kind == NUL_ERROR:
        return nul_error(param)
    if kind == "extra_forbidden":
        return InvalidRequest(
            f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
        )
    if kind in ("greater_than_equal", "greater_than"):
        return InvalidRequest(
            f"Invalid '{param}': integer below minimum value. Expected a value >= "
            f"{ctx.get('ge', ctx.get('gt'))}, but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if kind in ("less_than_equal", "less_than"):
        return InvalidRequest(
            f"Invalid '{param}': integer above maximum value. Expected a value <= "
            f"{ctx.get('le', ctx.get('lt'))}, but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    if kind == "string_too_short":
        return InvalidRequest(
            f"Invalid '{param}': string too short. Expected a string with minimum length "
            f"{ctx.get('min_length')}, but got a string with length {len(str(value))} instead.",
            param=param,
            code="string_below_min_length",
        )
    if kind == "string_too_long":
        return InvalidRequest(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{ctx.get('max_length')}, but got a string with length {len(str(value))} instead.",
            param=param,
            code="string_above_max_length",
        )
    if kind == "too_long":
        if isinstance(value, str):
            return InvalidRequest(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{ctx.get('max_length')}, but got a string with length {len(value)} instead.",
                param=param,
                code="string_above_max_length",
            )
        return InvalidRequest(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{ctx.get('max_length')}, but got an array with length {ctx.get('actual_length')} "
            "instead.",
            param=param,
            code="array_above_max_length",
        )
    if kind == "literal_error":
        return InvalidRequest(
            f"Invalid value: '{value}'. Supported values are: {ctx.get('expected')}.",
            param=param,
            code="invalid_value",
        )
    if kind in _EXPECTED_BY_ERROR:
        return InvalidRequest(
            f"Invalid type for '{param}': expected {_EXPECTED_BY_ERROR[kind]}, "
            f"but got {_json_type(value)} instead.",
            param=param,
            code="invalid_type",
        )
    message = str(error.get("msg", "Invalid value."))
    return InvalidRequest(f"Invalid '{param}': {message}.", param=param, code="invalid_value")


def parse_model[ModelT: BaseModel](model: type[ModelT], data: Any) -> ModelT:
    """Validate ``data`` into ``model``, raising the first problem as an ``InvalidRequest``."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            "The request body must be a JSON object.", code="invalid_type", param=None
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error_from_details(exc.errors()[0]) from None
