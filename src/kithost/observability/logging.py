"""How kithost's processes log: text for people, or one JSON object a line for collectors.

One ``logging.config`` dictionary configures kithost's loggers and uvicorn's alike; it is given
to ``uvicorn.run`` so that each worker process applies it too. Signed links are redacted in both
formats (kithost.serving.log_redaction). A structured line carries its fields in
``extra=log_fields(...)``: the JSON format writes them as keys, the text format after the message.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from kithost.serving.log_redaction import FILTER_NAME, uvicorn_log_config

LogFormat = Literal["json", "text"]
FIELDS_ATTRIBUTE = "kithost_fields"
TEXT_FORMAT = logging.BASIC_FORMAT  # "INFO:kithost.api:…", as before JSON existed


def log_fields(**fields: Any) -> dict[str, Any]:
    """``extra=`` for a structured line; fields that are None are left out."""
    return {FIELDS_ATTRIBUTE: {key: value for key, value in fields.items() if value is not None}}


def resolve_format(setting: str) -> LogFormat:
    """``auto``: text when stderr is a terminal (a person watching), json otherwise."""
    if setting in ("json", "text"):
        return setting  # type: ignore[return-value]
    return "text" if sys.stderr.isatty() else "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, FIELDS_ATTRIBUTE, {}))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual one-line text, with a structured line's fields as ``key=value`` after it."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if not fields:
            return text
        head, newline, rest = text.partition("\n")
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} [{pairs}]{newline}{rest}"


def log_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """The dictionary for ``logging.config.dictConfig`` (and ``uvicorn.run(log_config=…)``)."""
    config = copy.deepcopy(uvicorn_log_config())  # uvicorn's loggers, with the redaction filter
    config["formatters"]["kithost_json"] = {"()": f"{__name__}.JsonFormatter"}
    config["formatters"]["kithost_text"] = {"()": f"{__name__}.TextFormatter", "fmt": TEXT_FORMAT}
    config["handlers"]["kithost"] = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": f"kithost_{log_format}",
        "filters": [FILTER_NAME],
    }
    if log_format == "json":
        # uvicorn's own lines (startup, errors, the access log) become JSON objects as well.
        for handler in config["handlers"].values():
            handler["formatter"] = "kithost_json"
            handler["stream"] = "ext://sys.stderr"
    config["root"] = {"handlers": ["kithost"], "level": level.upper()}
    config["loggers"]["alembic"] = {"level": "WARNING"}
    return config
