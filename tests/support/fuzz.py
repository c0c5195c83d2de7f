"""What the fuzz tests share: their example budget, Hypothesis settings and a request tally.

``make test`` runs each fuzzer with a small, fixed budget and a derandomized Hypothesis (the same
inputs every run, so a failure there is reproducible). ``make fuzz`` sets KITHOST_FUZZ_EXAMPLES
for many more examples, drawn at random each run, and prints each fuzzer's figures.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings

from tests.support.chatkit_client import ECHO, create_session, unique_user

EXAMPLES_VARIABLE = "KITHOST_FUZZ_EXAMPLES"
# A session lives at most 600 s (the hosted bound); its secret is replaced well before.
SECRET_MAX_AGE = 300.0


def long_run() -> bool:
    """True under ``make fuzz`` (KITHOST_FUZZ_EXAMPLES set)."""
    return bool(os.environ.get(EXAMPLES_VARIABLE, "").strip())


def examples(default: int) -> int:
    """Examples per fuzzed operation (an OpenAPI operation in one mode, a ChatKit request type):
    KITHOST_FUZZ_EXAMPLES, else ``default``."""
    value = os.environ.get(EXAMPLES_VARIABLE, "").strip()
    return int(value) if value else default


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings for tests whose every example is an HTTP request to a real server.

    No deadline (a loaded machine is slow, and a hang is caught by the client's timeout instead),
    no example database (nothing written into the tree), and no health checks about slow or
    large data: that is the point of these tests.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=not long_run(),
        print_blob=long_run(),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


@dataclass
class Tally:
    """Requests a fuzzer sent, the statuses it got, and its failures: for each kind, the
    smallest example seen (a cheap minimization, where replaying against a server whose state
    has moved on cannot shrink reliably)."""

    name: str
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.statuses[status] += 1

    def note_failure(self, kind: str, example: str, size: int) -> None:
        known = self.failures.get(kind)
        if known is None or size < known[0]:
            self.failures[kind] = (size, example)

    def report(self) -> str:
        """Every failure kind with its smallest example, for an assertion message."""
        return "\n\n".join(f"{kind}:\n{example}" for kind, (_, example) in self.failures.items())

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"fuzz {self.name}: {self.requests} requests ({statuses}), "
            f"{len(self.failures)} failures"
        )


class ClientSecrets:
    """A client secret of a fresh ``wf_kithost_echo`` session, replaced before it expires."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.user = unique_user()
        self._secret = ""
        self._made_at: float | None = None

    def current(self) -> str:
        if self._made_at is None or time.monotonic() - self._made_at > SECRET_MAX_AGE:
            session = create_session(
                self.base_url,
                self.user,
                ECHO,
                rate_limits={"max_requests_per_1_minute": 1_000_000},
                chatkit_configuration={"file_upload": {"enabled": True, "max_files": 100}},
            )
            self._secret = str(session["client_secret"])
            self._made_at = time.monotonic()
        return self._secret
