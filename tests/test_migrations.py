"""Alembic migrations on SQLite and PostgreSQL: ``upgrade`` makes exactly the schema of
``kithost.store.tables.metadata``, is idempotent, is safe when several callers (in one process or
in several) run it at once, and the schema can be torn down to ``base`` and built again."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from kithost.store.database import create_engine
from kithost.store.migrate import alembic_config, current_revision, upgrade
from kithost.store.server_secrets import get_or_create_secret
from kithost.store.tables import compared, is_derived, metadata
from tests.support.databases import fresh_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = set(metadata.tables)

# Run by each subprocess of the multi-process test: get ready, wait for "go", then upgrade.
UPGRADE_SCRIPT = """
import asyncio, sys
from kithost.store.database import create_engine
from kithost.store.migrate import upgrade

async def main() -> None:
    engine = create_engine(sys.argv[1])
    try:
        async with engine.connect():
            pass
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("done", flush=True)

asyncio.run(main())
"""


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the module's backend, for one test."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def another_empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@asynccontextmanager
async def engines(*urls: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(url) for url in urls]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


def _schema_differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "compare_server_default": True, "include_name": compared},
    )
    return list(compare_metadata(context, metadata))


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would change to make the database match ``tables.metadata``."""
    async with engine.connect() as conn:
        return await conn.run_sync(_schema_differences)


async def table_names(engine: AsyncEngine) -> set[str]:
    """Tables, less each database's own search structures (``tables.DERIVED_PREFIX``)."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return {name for name in names if not is_derived(name)}


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def test_upgrade_from_empty_creates_exactly_the_schema(empty_url: str) -> None:
    async with engines(empty_url) as (engine,):
        # The comparison sees a missing schema, so an empty diff below means a matching one.
        missing = await schema_differences(engine)
        assert sorted(diff[1].name for diff in missing if diff[0] == "add_table") == sorted(TABLES)
        assert await current_revision(engine) is None

        await upgrade(engine)

        assert await schema_differences(engine) == []
        assert await table_names(engine) == TABLES | {"alembic_version"}
        assert await current_revision(engine) == HEAD


async def test_upgrade_twice_is_a_noop(empty_url: str) -> None:
    async with engines(empty_url) as (engine,):
        await upgrade(engine)
        secret = await get_or_create_secret(engine, "kept")
    # Again, as a restarted server would: same revision, same schema, data intact.
    async with engines(empty_url) as (engine,):
        await upgrade(engine)
        await upgrade(engine)
        assert await current_revision(engine) == HEAD
        assert await schema_differences(engine) == []
        assert await get_or_create_secret(engine, "kept") == secret


async def test_concurrent_upgrades_in_one_process_all_succeed(empty_url: str) -> None:
    async with engines(empty_url, empty_url, empty_url) as made:
        await asyncio.gather(*(upgrade(engine) for engine in made))
        assert await current_revision(made[0]) == HEAD
        assert await schema_differences(made[0]) == []


async def test_concurrent_upgrades_of_different_databases_in_one_process(
    empty_url: str, another_empty_url: str
) -> None:
    """Alembic keeps its running context in a module global: upgrades must not interleave."""
    async with engines(empty_url, another_empty_url) as made:
        await asyncio.gather(*(upgrade(engine) for engine in made))
        for engine in made:
            assert await current_revision(engine) == HEAD
            assert await schema_differences(engine) == []


async def test_concurrent_upgrades_from_several_processes_all_succeed(empty_url: str) -> None:
    """Servers starting together on one database queue on its lock instead of colliding."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPGRADE_SCRIPT,
            empty_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert await process.stdout.readline() == b"ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        outcomes = [await process.communicate() for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert (process.returncode, out) == (0, b"done\n"), err.decode()
    async with engines(empty_url) as (engine,):
        assert await current_revision(engine) == HEAD
        assert await schema_differences(engine) == []


async def test_downgrade_to_base_then_upgrade_again(empty_url: str) -> None:
    async with engines(empty_url) as (engine,):
        await upgrade(engine)
        before = await get_or_create_secret(engine, "dropped")

        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        assert await table_names(engine) == {"alembic_version"}

        await upgrade(engine)
        assert await current_revision(engine) == HEAD
        assert await schema_differences(engine) == []
        # The tables were really dropped: the secret is made anew.
        assert await get_or_create_secret(engine, "dropped") != before


async def derived_objects(engine: AsyncEngine) -> set[str]:
    """Each database's own search structures (tables and columns named DERIVED_PREFIX…)."""

    def names(sync: Connection) -> set[str]:
        inspector = inspect(sync)
        found = {name for name in inspector.get_table_names() if is_derived(name)}
        if "vector_store_chunks" in inspector.get_table_names():
            columns = inspector.get_columns("vector_store_chunks")
            found |= {column["name"] for column in columns if is_derived(column["name"])}
        return found

    async with engine.connect() as conn:
        return await conn.run_sync(names)


async def test_keyword_index_comes_and_goes_with_its_migration(
    empty_url: str, backend: str
) -> None:
    """0002 adds the keyword index of chunk text (FTS5 on SQLite, a tsvector column on
    PostgreSQL), which schema comparisons skip; going back to 0001 removes it with the tables."""
    expected = {"search_index_fts"} if backend == "sqlite" else {"search_index_tsv"}
    async with engines(empty_url) as (engine,):
        await upgrade(engine, "0002")
        assert expected <= await derived_objects(engine)
        await downgrade(engine, "0001")
        assert await derived_objects(engine) == set()
        assert "vector_store_chunks" not in await table_names(engine)
        await upgrade(engine)
        assert expected <= await derived_objects(engine)
        assert await schema_differences(engine) == []
