"""Workflows' findings in words, for ``kithost workflows check|list`` and the start banner."""

from __future__ import annotations

from collections.abc import Iterable

from kithost.workflows.registry import WorkflowVersion

INDENT = " " * 9


def status(version: WorkflowVersion) -> str:
    return "unavailable" if version.unavailable_reason else "available"


def check_lines(version: WorkflowVersion) -> list[str]:
    """``ok`` (or ``unavailable``), the version, then one indented line per finding."""
    head = "ok" if version.unavailable_reason is None else "unavailable"
    lines = [f"{head:8} {version.id} version {version.version} ({version.source})"]
    lines += [f"{INDENT}{finding.describe()}" for finding in version.findings]
    return lines


def banner_lines(versions: Iterable[WorkflowVersion]) -> list[str]:
    """What `kithost serve` says about workflows that cannot run or need a setting."""
    lines: list[str] = []
    needs: dict[str, list[str]] = {}
    for version in versions:
        name = f"{version.id} version {version.version}"
        reason = version.unavailable_reason
        if reason is not None:
            lines.append(f"Unavailable: {name}: {reason}.")
        for finding in version.findings:
            if finding.status == "needs_setting":
                needs.setdefault(finding.describe(), []).append(name)
    for need, names in needs.items():
        lines.append(f"Needs setup: {need} (used by {', '.join(dict.fromkeys(names))}).")
    return lines
