"""The docs stay true to the code (as datasette's tests/test_docs.py keeps its docs).

- every ``kithost …`` command the README and docs/ show exists, with the options they give it;
- every ``KITHOST_*`` name they mention is a setting, an option's variable, or one of the few
  variables that belong to someone else (the app backend's admin key, the test suite's);
- every variable kithost reads is in the README's configuration table;
- docs/cli.md is what ``kithost --help`` says today (``make docs-cli`` rewrites it).

Command invocations are read where docs show commands: code spans that start with ``kithost``
and lines of shell blocks (```sh, ```bash, ```console or a bare ```).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kithost.settings import Settings
from tests.support.setting_names import setting_names

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = ROOT / "docs" / "cli.md"  # written from the commands themselves
CLI_DOCS = ROOT / "scripts" / "cli_docs.py"

# KITHOST_* names that are not kithost settings, and whose they are instead.
NOT_SETTINGS = {
    "KITHOST_ADMIN_KEY": "the app backend's copy of an admin key (the docs' name for it)",
    "KITHOST_URL": "the app backend's address of kithost (docs/server-runs.md's name for it)",
    "KITHOST_TEST_POSTGRES_URL": "the test suite's PostgreSQL server",
    "KITHOST_TEST_CHROMIUM": "the test suite's browser",
    "KITHOST_TEST_AGENT_BUILDER_FIXTURES": "the test suite's shared exports",
    "KITHOST_SCREENSHOT_DIR": "where `make screenshots` writes",
    "KITHOST_FUZZ_EXAMPLES": "how long the fuzz tests run (`make fuzz`)",
}
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console"}
INVOCATION = re.compile(r"(?:^|[\s;|&(`])(?:\.venv/bin/)?kithost((?:\s+[^\s;&)`#]+)*)")
WORD = re.compile(r"^[a-z][a-z_-]*$")
SETTING_NAME = re.compile(r"\bKITHOST_[A-Z0-9_]*[A-Z0-9]\b")


@dataclass(frozen=True)
class Mention:
    doc: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: {self.text.strip()}"


@cache
def command_tree() -> dict[str, dict[str, list[str]]]:
    """Every command path with its options, from the Typer app (in a process of its own:
    plain help needs Typer imported without rich)."""
    result = subprocess.run(
        [sys.executable, str(CLI_DOCS), "--tree"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    tree: dict[str, dict[str, list[str]]] = json.loads(result.stdout)
    return tree


def option_variables() -> set[str]:
    return {var for command in command_tree().values() for var in command["envvars"]}


class _EnvironmentReads(ast.NodeVisitor):
    """``os.environ["X"]``, ``os.environ.get("X")``, ``os.getenv("X")`` with a literal name."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Call(self, node: ast.Call) -> None:
        func = ast.unparse(node.func)
        if func in ("os.environ.get", "os.getenv", "environ.get", "getenv") and node.args:
            self._note(node.args[0])
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if ast.unparse(node.value) in ("os.environ", "environ"):
            self._note(node.slice)
        self.generic_visit(node)

    def _note(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.names.add(node.value)


def code_reads() -> set[str]:
    """Variables kithost's own code reads outside Settings and the CLI's options."""
    visitor = _EnvironmentReads()
    for path in (ROOT / "src" / "kithost").rglob("*.py"):
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    return visitor.names


def readme_table_names() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def documented_text() -> Iterator[tuple[Path, int, str]]:
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            yield doc, number, line


def command_lines(doc: Path) -> Iterator[Mention]:
    """Lines of shell blocks, and inline code spans, that may hold ``kithost`` commands."""
    fence: str | None = None
    lines = doc.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip()
            continue
        if fence is not None:
            if fence in SHELL_BLOCKS and not lines[number - 2].rstrip().endswith("\\"):
                # A command continued with a backslash is one command.
                following = number
                while line.rstrip().endswith("\\") and following < len(lines):
                    line = line.rstrip()[:-1] + " " + lines[following]
                    following += 1
                yield Mention(doc, number, line)
            continue
        for span in re.findall(r"`([^`]+)`", line):
            if re.match(r"(?:\.venv/bin/)?kithost\s", span):
                yield Mention(doc, number, span)


def invocations() -> Iterator[tuple[Mention, list[str]]]:
    """Each ``kithost`` invocation with its words (up to a pipe, `;`, `&&`, `)` or `#`)."""
    for doc in DOCS:
        if doc == GENERATED:
            continue
        for mention in command_lines(doc):
            for match in INVOCATION.finditer(mention.text):
                words = match.group(1).split()
                if words:
                    yield mention, words


def check_invocation(words: list[str]) -> str | None:
    """Why ``kithost <words>`` does not match the app, or None when it does.

    Alternatives written ``kithost keys create [--name N] | list | revoke ID`` are checked
    against the command before the first ``|`` and its siblings.
    """
    tree = command_tree()
    path = "kithost"
    rest = list(words)
    while rest and WORD.match(rest[0]) and f"{path} {rest[0]}" in tree:
        path = f"{path} {rest.pop(0)}"
    if path == "kithost":
        return f"no command {rest[0]!r}" if rest else None
    if tree[path]["subcommands"] and rest and WORD.match(rest[0]):
        return f"{path} has no subcommand {rest[0]!r}"
    return _check_options(path, rest)


def _check_options(path: str, words: list[str]) -> str | None:
    tree = command_tree()
    parent = path.rsplit(" ", 1)[0]
    current = path
    for index, word in enumerate(words):
        if word == "|":
            following = words[index + 1] if index + 1 < len(words) else ""
            if f"{parent} {following}" not in tree:
                return None  # a shell pipe: what follows is another program
            continue
        if WORD.match(word) and f"{parent} {word}" in tree and current != f"{parent} {word}":
            current = f"{parent} {word}"  # an alternative: `… | list | revoke ID`
            continue
        option = re.match(r"^\[?(--[a-z][a-z-]*)", word)
        if option and option.group(1) not in [*tree[current]["options"], "--help"]:
            return f"{current} has no option {option.group(1)}"
    return None


def shown_invocations() -> list[tuple[Mention, list[str]]]:
    return list(invocations())


# ---------------------------------------------------------------------------- commands


def test_the_docs_show_commands_at_all() -> None:
    """The scanner finds what it is meant to (so the next test cannot pass by finding nothing)."""
    shown = {" ".join(words[:2]) for _, words in shown_invocations()}
    for expected in ("serve", "import --dry-run", "workflows check", "keys create", "traces"):
        assert any(line.startswith(expected) for line in shown), (expected, sorted(shown))


def test_every_command_the_docs_show_exists() -> None:
    wrong = [
        f"{mention}  ->  {reason}"
        for mention, words in shown_invocations()
        if (reason := check_invocation(words)) is not None
    ]
    assert wrong == []


def test_the_checker_refuses_what_does_not_exist() -> None:
    assert check_invocation(["serve", "--port", "8080"]) is None
    assert check_invocation(["keys", "create", "[--name", "N]", "|", "list", "|", "revoke"]) is None
    assert check_invocation(["import", "--dry-run", "--api-key", "K"]) is None
    assert check_invocation(["start"]) == "no command 'start'"
    assert check_invocation(["keys", "delete"]) == "kithost keys has no subcommand 'delete'"
    assert check_invocation(["import", "--since", "D", "--force"]) == (
        "kithost import has no option --force"
    )
    assert check_invocation(["keys", "create", "|", "list", "--all"]) == (
        "kithost keys list has no option --all"
    )


def test_cli_md_is_what_the_commands_say() -> None:
    result = subprocess.run(
        [sys.executable, str(CLI_DOCS), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- settings


def test_every_kithost_variable_the_docs_name_exists() -> None:
    known = setting_names() | option_variables() | set(NOT_SETTINGS)
    unknown = [
        f"{doc.relative_to(ROOT)}:{number}: {name}"
        for doc, number, line in documented_text()
        for name in SETTING_NAME.findall(line)
        if name not in known
    ]
    assert unknown == []


def test_every_variable_kithost_reads_is_in_the_readme_table() -> None:
    read = setting_names() | option_variables() | (code_reads() - set(NOT_SETTINGS))
    assert read >= {"KITHOST_DATABASE_URL", "OPENAI_API_KEY", "KITHOST_IMPORT_API_KEY"}
    missing = sorted(read - readme_table_names())
    assert missing == [], f"undocumented in README's configuration table: {missing}"


def test_names_that_are_not_settings_are_explained_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    configuration = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    for name in NOT_SETTINGS:
        assert f"`{name}`" in configuration, name
        assert name not in setting_names(), f"{name} became a setting: take it off NOT_SETTINGS"


@pytest.mark.parametrize("name", sorted(NOT_SETTINGS))
def test_kithost_never_reads_the_names_that_are_not_settings(name: str) -> None:
    assert name not in code_reads() | setting_names() | option_variables()


def test_the_default_database_follows_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's defaults for the database and data folder, as Settings computes them."""
    for variable in ("KITHOST_DATABASE_URL", "KITHOST_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    defaults: Any = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.resolved_database_url == "sqlite+aiosqlite:///var/kithost.db"
    monkeypatch.setenv("KITHOST_DATA_DIR", "/srv/kithost")
    moved: Any = Settings(_env_file=None)  # type: ignore[call-arg]
    assert moved.resolved_database_url == "sqlite+aiosqlite:////srv/kithost/kithost.db"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `KITHOST_DATABASE_URL`"))
    assert "`KITHOST_DATA_DIR`" in row
