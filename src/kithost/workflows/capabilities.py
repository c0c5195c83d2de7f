"""What a workflow needs from this server, judged against the configured provider and settings.

Every Agent Builder export is read for the hosted tools, guardrails and model names it uses;
each becomes a ``Finding``. ``workflows check``, ``GET /v1/chatkit/workflows``, the admin
console and ``sessions.create`` all speak from the same findings, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FindingStatus = Literal[
    "runs_on_openai",  # passed through to OpenAI, which runs it
    "local",  # kithost runs a local equivalent
    "needs_setting",  # runs once a KITHOST_… setting (or an installed model) is there
    "unavailable",  # cannot run on this provider: the workflow cannot take sessions
]

STATUS_WORDS: dict[FindingStatus, str] = {
    "runs_on_openai": "runs on OpenAI",
    "local": "local equivalent",
    "needs_setting": "needs setup",
    "unavailable": "not available on this provider",
}


@dataclass(frozen=True)
class Finding:
    """One thing a workflow uses, e.g. ``HostedMCPTool "crm"`` → local equivalent.

    ``detail`` says how it runs; for ``needs_setting`` it says what is needed, in words that
    stand alone ("needs KITHOST_WEB_SEARCH_URL …"), since it is then shown instead of the status.
    """

    subject: str
    status: FindingStatus
    detail: str = ""

    @property
    def blocking(self) -> bool:
        return self.status == "unavailable"

    def describe(self) -> str:
        if self.status == "needs_setting" and self.detail:
            return f"{self.subject}: {self.detail}"
        words = STATUS_WORDS[self.status]
        return f"{self.subject}: {words}" + (f" ({self.detail})" if self.detail else "")

    def wire(self) -> dict[str, str]:
        return {"subject": self.subject, "status": self.status, "detail": self.detail}


def unavailable_reason(findings: tuple[Finding, ...]) -> str | None:
    """Why a workflow cannot run here, in one sentence; None when it can."""
    blocking = [finding for finding in findings if finding.blocking]
    if not blocking:
        return None
    return "; ".join(
        f"{finding.subject} is not available on this provider"
        + (f" ({finding.detail})" if finding.detail else "")
        for finding in blocking
    )
