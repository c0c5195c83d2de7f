"""Helpers for the retention and data-rights tests: the ``kithost`` CLI against a server's
database, and reading that database (to see that rows are really gone)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from sqlalchemy import text

from kithost.store.database import create_engine
from tests.support.process import KithostProcess


def kithost_cli(
    server: KithostProcess, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``kithost ARGS`` with the server's settings (database, data folder, workflows)."""
    return subprocess.run(
        [sys.executable, "-m", "kithost", *args],
        cwd=server.workdir,
        env=server.environment(),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_json(server: KithostProcess, *args: str, stdin: str | None = None) -> Any:
    done = kithost_cli(server, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the database at ``database_url``."""

    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def count(database_url: str, table: str, column: str, values: list[str]) -> int:
    """How many rows of ``table`` have ``column`` in ``values``."""
    if not values:
        return 0
    names = {f"v{i}": value for i, value in enumerate(values)}
    marks = ", ".join(f":{name}" for name in names)
    rows = query(database_url, f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})", **names)  # noqa: S608 - test helper, fixed names
    return int(rows[0][0])
