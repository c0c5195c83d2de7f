"""Which kithost code a benchmark's server runs: this tree's, or a commit's.

A commit's ``src/`` is exported with ``git archive`` into the benchmark's temporary folder and put
first on the server's ``PYTHONPATH`` (the venv's editable install is a plain ``.pth`` path, which
comes after it), so the same venv and the same ``KithostProcess`` start older code. Its
dependencies are this venv's: fine for a comparison across a few commits, not across releases.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import REPO_ROOT

# The parent of the durable-runs work (issue 14): kithost before every streamed turn was a run.
BEFORE_RUNS = "0e6ba3f"


@dataclass(frozen=True)
class Build:
    """kithost's code for a server: ``env`` goes into ``kithost serve``'s environment."""

    label: str
    name: str  # short, for file names
    ref: str | None = None  # None: the code on this process's path (the working tree)
    env: dict[str, str] = field(default_factory=dict)


def current(ref: str | None = None) -> Build:
    where = f"at {ref}" if ref else "this tree"
    return Build(f"with runs (journal), {where}", "with", ref)


def commit_of(ref: str) -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"not a commit in {REPO_ROOT}: {ref}")
    return out.stdout.strip()


def export(ref: str, root: Path) -> Path:
    """``src/`` of ``ref`` under ``root``; the folder to put on ``PYTHONPATH``."""
    commit = commit_of(ref)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    destination = root / f"kithost-{commit[:12]}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    src = destination / "src"
    _check_imports(src)
    return src


def _check_imports(src: Path) -> None:
    """A server started with this ``PYTHONPATH`` runs the exported code, not the tree's."""
    out = subprocess.run(
        [sys.executable, "-c", "import kithost; print(kithost.__file__)"],
        cwd=src.parent,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = Path(out.stdout.strip()).resolve()
    if not imported.is_relative_to(src.resolve()):
        raise RuntimeError(f"PYTHONPATH={src} still imports kithost from {imported}")


def from_ref(ref: str, root: Path, label: str, name: str) -> Build:
    src = export(ref, root)
    return Build(label, name, ref, {"PYTHONPATH": str(src)})


def baseline(ref: str, root: Path) -> Build:
    if commit_of(ref) == commit_of(BEFORE_RUNS):
        return from_ref(ref, root, f"before runs ({ref})", "before")
    return from_ref(ref, root, f"baseline ({ref})", "baseline")
