"""Client secrets and API keys: how they look, and how they are hashed and compared.

Both are long random tokens (≥160 bits), so plain SHA-256 is the right hash: there is nothing to
brute-force, and a lookup by hash needs a deterministic digest. Only digests are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

API_KEY_PREFIX = "sk-kh-"
CLIENT_SECRET_PREFIX = "ek_"  # noqa: S105 - a format prefix, not a secret


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 digest under which a secret or key is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(36)


def key_hint(key: str) -> str:
    """A recognisable but useless fragment of a key, as OpenAI shows: ``sk-kh-ab****wxyz``."""
    if len(key) <= 12:
        return "****"
    return f"{key[:8]}****{key[-4:]}"


def new_client_secret(expires_at: int) -> str:
    """Return ``ek_`` + 48 hex + ``_00`` + base64 of ``{"expires_at": …}``, the hosted format.

    The embedded expiry lets a browser schedule its refresh without asking the server.
    """
    stamp = int(time.time()) & 0xFFFFFFFF
    payload = json.dumps({"expires_at": expires_at}, separators=(",", ":")).encode()
    tail = base64.b64encode(payload).decode("ascii")
    return f"{CLIENT_SECRET_PREFIX}{stamp:08x}{secrets.token_hex(20)}_00{tail}"


def client_secret_expiry(secret: str) -> int | None:
    """Read the expiry embedded in a client secret, or None if it is not in the hosted format."""
    _, sep, tail = secret.rpartition("_00")
    if not sep or not secret.startswith(CLIENT_SECRET_PREFIX):
        return None
    try:
        value = json.loads(base64.b64decode(tail, validate=True))["expires_at"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None
