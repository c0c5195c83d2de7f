"""Vector search on SQLite with sqlite-vec, over the ``chunk_embeddings`` rows themselves.

Python's own ``sqlite3`` often cannot load extensions (pyenv's and several distributions'
builds leave it out), so searches go through ``apsw``, which bundles SQLite with extension
loading, on its own connection (which only reads) to the same database file, in a thread of its own.
Writes stay on kithost's engine: the vectors are ordinary rows, removed with their chunks.
sqlite-vec's ``vec_distance_cosine`` ranks them in C (exact search: sqlite-vec has no
approximate index yet, and at tens of thousands of chunks it needs none).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kithost.store.chunk_vectors import Ranked, similarity, to_bytes

BUSY_TIMEOUT_MS = 30_000


class SqliteVecUnavailable(RuntimeError):
    """sqlite-vec cannot be loaded here; the message says why."""


def sqlite_vec_version() -> str:
    """Load sqlite-vec in a scratch connection: its version, or ``SqliteVecUnavailable``."""
    connection = _connect(":memory:")
    try:
        row = connection.execute("SELECT vec_version()").fetchone()
        return str(row[0]) if row else "?"
    finally:
        connection.close()


def _connect(path: str) -> Any:
    try:
        import apsw
        import sqlite_vec
    except ImportError as missing:
        raise SqliteVecUnavailable(f"{missing.name} is not installed") from None
    try:
        # Read-write, then query_only: a read-only connection to a WAL database fails when
        # its -shm file is missing.
        connection = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READWRITE)
        connection.enable_load_extension(True)
        connection.load_extension(sqlite_vec.loadable_path())
        connection.enable_load_extension(False)
    except apsw.Error as error:
        raise SqliteVecUnavailable(f"sqlite-vec could not be loaded ({error})") from None
    connection.set_busy_timeout(BUSY_TIMEOUT_MS)
    connection.execute("PRAGMA query_only = 1")
    return connection


class SqliteVecSearch:
    """Nearest chunks by cosine distance, computed by sqlite-vec inside SQLite."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.version = sqlite_vec_version()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-vec")
        self._local = threading.local()

    def describe(self) -> str:
        return f"sqlite-vec {self.version}"

    async def nearest(
        self,
        store_ids: Sequence[str],
        query: NDArray[np.float32],
        limit: int,
        allowed: Collection[int] | None,
        model: str,
    ) -> Ranked:
        if limit <= 0 or not store_ids:
            return []
        loop = asyncio.get_running_loop()
        allowed_list = None if allowed is None else sorted(int(i) for i in allowed)
        return await loop.run_in_executor(
            self._executor,
            self._nearest,
            list(store_ids),
            to_bytes(query),
            limit,
            allowed_list,
            model,
        )

    def _nearest(
        self,
        store_ids: list[str],
        query: bytes,
        limit: int,
        allowed: list[int] | None,
        model: str,
    ) -> Ranked:
        dimensions = len(query) // 4
        sql = (
            "SELECT chunk_id, vec_distance_cosine(embedding, ?) AS distance "
            "FROM chunk_embeddings WHERE vector_store_id IN (SELECT value FROM json_each(?)) "
            "AND model = ? AND dimensions = ?"
        )
        params: list[Any] = [query, json.dumps(store_ids), model, dimensions]
        if allowed is not None:
            if not allowed:
                return []
            sql += " AND chunk_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(allowed))
        sql += " ORDER BY distance LIMIT ?"
        params.append(limit)
        rows = self._connection().execute(sql, params).fetchall()
        return [(int(chunk_id), similarity(float(distance))) for chunk_id, distance in rows]

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = _connect(str(self.database))
            self._local.connection = connection
        return connection

    async def close(self) -> None:
        def close_connection() -> None:
            connection = getattr(self._local, "connection", None)
            if connection is not None:
                connection.close()
                self._local.connection = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, close_connection)
        self._executor.shutdown(wait=True)
