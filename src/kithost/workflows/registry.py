"""The workflow registry: which ``wf_…`` ids and versions exist, and how to run each.

Built-in workflows are registered exactly as users' workflows are, so the registry is the one
place that answers "does this workflow exist?" for ``sessions.create``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kithost.core.errors import InvalidRequest, NotFound
from kithost.workflows.base import Workflow
from kithost.workflows.capabilities import Finding, unavailable_reason
from kithost.workflows.starter_prompts import StarterPrompt


def version_sort_key(version: str) -> tuple[Any, ...]:
    """Order versions naturally: ``2`` < ``10``, ``2025-01-02`` < ``2025-11-30``."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", version)
        if part
    )


@dataclass(frozen=True)
class WorkflowVersion:
    """One version of a workflow, with what runs it (``runnable``, owned by its source) and
    what it needs from this server (``findings``)."""

    id: str
    version: str
    name: str
    source: str
    runnable: Workflow = field(compare=False, repr=False)
    description: str = ""
    findings: tuple[Finding, ...] = ()
    starter_prompts: tuple[StarterPrompt, ...] = ()
    """What a chat suggests in a new conversation with this workflow (none unless declared)."""
    retention_days: int | None = None
    """Days its threads are kept after their last activity (0: forever); None: the server's
    ``KITHOST_THREAD_RETENTION_DAYS``. Only YAML workflows declare it."""

    @property
    def unavailable_reason(self) -> str | None:
        """Why sessions cannot use this version on this server; None when they can."""
        return unavailable_reason(self.findings)


class WorkflowRegistry:
    def __init__(self, versions: Iterable[WorkflowVersion] = ()):
        self._by_id: dict[str, dict[str, WorkflowVersion]] = {}
        self.replace(versions)

    def replace(self, versions: Iterable[WorkflowVersion]) -> None:
        """Swap in a new set of workflows at once (a reload); running turns keep theirs."""
        by_id: dict[str, dict[str, WorkflowVersion]] = {}
        for version in versions:
            by_id.setdefault(version.id, {})[version.version] = version
        self._by_id = by_id

    def check(self, workflow_id: str, version: str | None) -> None:
        """Refuse a session for a workflow that does not exist or cannot run here."""
        found = self.resolve(workflow_id, version)
        reason = found.unavailable_reason
        if reason is not None:
            raise InvalidRequest(
                f"Workflow '{workflow_id}' version '{found.version}' cannot run on this "
                f"server: {reason}.",
                param="workflow.id",
                code="workflow_unavailable",
            )

    def resolve(self, workflow_id: str, version: str | None = None) -> WorkflowVersion:
        """Return the named version, or the newest when ``version`` is None."""
        versions = self._by_id.get(workflow_id)
        if not versions:
            raise NotFound(f"Workflow with id '{workflow_id}' not found.")
        if version is None:
            return versions[max(versions, key=version_sort_key)]
        if version not in versions:
            raise NotFound(f"Version '{version}' of workflow '{workflow_id}' not found.")
        return versions[version]

    def retention_overrides(self) -> dict[str, int]:
        """Workflow id → retention days, where its newest version declares them (threads
        record a workflow's id, not its version)."""
        newest = (self.resolve(workflow_id) for workflow_id in self._by_id)
        return {v.id: v.retention_days for v in newest if v.retention_days is not None}

    def list(self) -> list[WorkflowVersion]:
        return [
            self._by_id[wid][v]
            for wid in sorted(self._by_id)
            for v in sorted(self._by_id[wid], key=version_sort_key)
        ]
