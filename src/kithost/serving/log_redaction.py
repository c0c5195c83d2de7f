"""Keep signed links out of the logs.

A preview or upload link carries its permission in ``signature=`` (kithost.core.signing): the
access log line ``GET /v1/chatkit/files/…/content?expires=…&signature=…`` would let anyone who
reads the log fetch the file (or supply a pending upload's bytes). The filter below rewrites
the signature's value in every record that passes the handlers it is attached to: uvicorn's
(access and error logs, through ``log_config``) and the root logger's (kithost's own).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable
from typing import Any

from uvicorn.config import LOGGING_CONFIG

SIGNATURE = re.compile(r"(\bsignature=)[^&\s\"'#]+", re.IGNORECASE)
REDACTED = "[redacted]"
FILTER_NAME = "kithost_redact_signed_links"
_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    return SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) and "signature=" in value.lower() else value


class RedactSignedLinks(logging.Filter):
    """Replace the value of every ``signature=`` in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            # An error's text can quote a URL (an HTTP client's "… for url '…'"); formatters
            # print exc_text when it is set.
            record.exc_text = _redacted(_TRACEBACKS.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = _redacted(record.stack_info)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on each of its handlers (given to
    ``uvicorn.run``, so that worker processes configure it too)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})[FILTER_NAME] = {"()": f"{__name__}.RedactSignedLinks"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append(FILTER_NAME)
    return config


def redact_handlers(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, RedactSignedLinks) for f in handler.filters):
            handler.addFilter(RedactSignedLinks())
