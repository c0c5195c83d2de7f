"""A document's runnable code blocks, and a terminal to paste its shell blocks into.

A block is runnable when an HTML comment names it on the line before its fence, which keeps the
rendered page clean::

    <!-- test: curl-start -->
    ```sh
    curl -s "$KITHOST_URL/v1/chatkit/threads" …
    ```
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MARKED_BLOCK = re.compile(
    r"^<!-- test: (?P<name>[a-z0-9-]+) -->\n```(?P<lang>[a-z]*)\n(?P<code>.*?)\n```$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"<!-- test: ")
SHELL_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Block:
    name: str
    lang: str
    code: str


def marked_blocks(doc: Path) -> dict[str, Block]:
    """The document's marked blocks by name; a marker not right before a fence is an error."""
    text = doc.read_text(encoding="utf-8")
    blocks: dict[str, Block] = {}
    for match in MARKED_BLOCK.finditer(text):
        name = match["name"]
        assert name not in blocks, f"{doc.name}: two blocks are marked {name!r}"
        blocks[name] = Block(name, match["lang"], match["code"] + "\n")
    markers = len(MARKER.findall(text))
    assert markers == len(blocks), f"{doc.name}: a test marker is not followed by a code block"
    return blocks


@dataclass
class ShellResult:
    stdout: str
    stderr: str


@dataclass
class Terminal:
    """Shell blocks run one after another as if pasted into one terminal: in one folder, with
    the variables the reader exported, and the ones named in ``carried`` that a block set
    passed on to the blocks after it."""

    cwd: Path
    env: dict[str, str]
    carried: tuple[str, ...]
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, block: Block, **env: str) -> ShellResult:
        assert block.lang in ("sh", "bash"), f"{block.name} is a {block.lang!r} block"
        carry_file = self.cwd / ".carried"
        dump = (
            f"\nfor name in {' '.join(self.carried)}; do\n"
            '  if [ -n "${!name+x}" ]; then printf \'%s=%s\\n\' "$name" "${!name}"; fi\n'
            f'done > "{carry_file}"\n'
        )
        result = subprocess.run(
            ["bash", "-c", "set -eo pipefail\n" + block.code + dump],
            cwd=self.cwd,
            env={**self.env, **self.variables, **env},
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT_SECONDS,
        )
        assert result.returncode == 0, (
            f"{block.name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        for line in carry_file.read_text().splitlines():
            name, value = line.split("=", 1)
            self.variables[name] = value
        return ShellResult(result.stdout, result.stderr)
