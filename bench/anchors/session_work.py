"""B1's second anchor: the work of ``sessions.create`` itself, by hand, on PostgreSQL.

``python -m bench.anchors.session_work --port N --dsn DSN --admin-key KEY --body-size BYTES``.
One plain ASGI route that does what a ``sessions.create`` must do and nothing else: read and
parse the JSON body, one SELECT for the admin key's hash, make an id and a client secret, one
committed INSERT of the session row (with its secret's hash), and the session's JSON back, padded
to kithost's answer size. asyncpg with a pool, no ORM, no validation beyond what the work needs.
The floor for a database-backed ``sessions.create`` in Python on this server (issue 18's B1).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from starlette.types import Receive, Scope, Send

from bench.anchors.serving import parse, port_parser, serve

_SCHEMA = """
CREATE TABLE IF NOT EXISTS anchor_api_keys (
    key_hash VARCHAR(64) PRIMARY KEY,
    revoked_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS anchor_sessions (
    seq BIGSERIAL PRIMARY KEY,
    id VARCHAR(64) NOT NULL UNIQUE,
    secret_hash VARCHAR(64) NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    workflow_id VARCHAR(200) NOT NULL,
    configuration TEXT NOT NULL,
    max_requests_per_1_minute INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_anchor_sessions_user ON anchor_sessions (user_id, created_at, seq);
"""
_KEY_SQL = "SELECT 1 FROM anchor_api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
_INSERT_SQL = (
    "INSERT INTO anchor_sessions (id, secret_hash, user_id, workflow_id, configuration, "
    "max_requests_per_1_minute, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
_CONFIGURATION = {
    "automatic_thread_titling": {"enabled": True},
    "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
    "history": {"enabled": True, "recent_threads": None},
}
_JSON = [(b"content-type", b"application/json")]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_app(dsn: str, admin_key: str, body_size: int) -> Any:
    pool: asyncpg.Pool | None = None

    async def startup() -> None:
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        async with pool.acquire() as conn:
            await conn.execute(_SCHEMA)
            await conn.execute(
                "INSERT INTO anchor_api_keys (key_hash) VALUES ($1) ON CONFLICT DO NOTHING",
                _sha256(admin_key),
            )

    async def respond(send: Send, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def create_session(scope: Scope, receive: Receive, send: Send) -> None:
        assert pool is not None
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        request = json.loads(b"".join(chunks))
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        async with pool.acquire() as conn:
            if await conn.fetchval(_KEY_SQL, _sha256(token)) is None:
                await respond(send, 401, {"error": {"message": "Invalid API key."}})
                return
            session_id = "cksess_" + secrets.token_hex(16)
            client_secret = "ek_" + secrets.token_urlsafe(32)
            now = time.time()
            expires_at = int(now) + 600
            limit = int(request.get("rate_limits", {}).get("max_requests_per_1_minute", 10))
            await conn.execute(
                _INSERT_SQL,
                session_id,
                _sha256(client_secret),
                request["user"],
                request["workflow"]["id"],
                json.dumps(_CONFIGURATION),
                limit,
                now,
                expires_at,
            )
        document: dict[str, Any] = {
            "id": session_id,
            "object": "chatkit.session",
            "chatkit_configuration": _CONFIGURATION,
            "client_secret": client_secret,
            "expires_at": expires_at,
            "max_requests_per_1_minute": limit,
            "rate_limits": {"max_requests_per_1_minute": limit},
            "status": "active",
            "user": request["user"],
            "workflow": {"id": request["workflow"]["id"], "state_variables": None},
            "padding": "",
        }
        shortfall = body_size - len(json.dumps(document, separators=(",", ":")))
        document["padding"] = "x" * max(0, shortfall)
        await respond(send, 200, document)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await startup()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            if pool is not None:
                await pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "POST" and scope["path"] == "/v1/chatkit/sessions":
            await create_session(scope, receive, send)
        else:
            await respond(send, 200, {"status": "ok"})  # /healthz

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = port_parser(__doc__)
    parser.add_argument("--dsn", required=True, help="asyncpg DSN of an empty database")
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--body-size", type=int, default=1000)
    args = parse(parser, argv)
    serve(make_app(args.dsn, args.admin_key, args.body_size), args.port, args.host)


if __name__ == "__main__":
    main()
