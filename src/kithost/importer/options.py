"""What the operator asked ``kithost import`` to do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

DEFAULT_MAX_RETRIES = 10
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_SOURCE_URL = "https://api.openai.com/v1"

_UNIX_TIME = re.compile(r"^\d{1,12}(\.\d+)?$")


@dataclass(frozen=True)
class ImportOptions:
    base_url: str = DEFAULT_SOURCE_URL
    """The source's base URL (``…/v1``); never OPENAI_BASE_URL, the model provider's."""
    api_key: str | None = None
    """The source's API key (``--api-key`` or KITHOST_IMPORT_API_KEY, never OPENAI_API_KEY)."""
    users: tuple[str, ...] = ()
    since: float | None = None
    """Only threads created at or after this Unix time."""
    thread_ids: tuple[str, ...] = ()
    dry_run: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    public_url: str = "http://127.0.0.1:8000"
    """Where kithost is reached, for the signed links of copied previews."""

    def wants(self, user: str, created_at: float) -> bool:
        """Whether a thread passes the ``--user`` and ``--since`` filters."""
        if self.users and user not in self.users:
            return False
        return self.since is None or created_at >= self.since


def parse_since(value: str) -> float:
    """A date (``2025-10-01``, midnight UTC), an ISO 8601 time, or Unix seconds."""
    text = value.strip()
    if _UNIX_TIME.fullmatch(text):
        return float(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a date (2025-10-01), an ISO 8601 time "
            "(2025-10-01T12:00:00Z) nor Unix seconds (1759276800)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
