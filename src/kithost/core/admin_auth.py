"""Admin API keys: those from ``KITHOST_API_KEYS`` and those made by ``kithost keys``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kithost.core.errors import Unauthenticated
from kithost.core.secrets import digests_equal, hash_secret, key_hint


class KeyLookup(Protocol):
    async def find_active(self, key_hash: str) -> object | None: ...


class AdminAuthenticator:
    def __init__(self, configured_keys: Iterable[str], stored_keys: KeyLookup):
        # Keep only digests of the configured keys in memory, too.
        self._configured = [hash_secret(key) for key in configured_keys]
        self._stored = stored_keys

    async def authenticate(self, authorization: str | None) -> None:
        """Accept ``Bearer <key>`` for a configured or stored, unrevoked key; else raise 401."""
        key = bearer_token(authorization)
        if key is None:
            raise Unauthenticated("Missing bearer or basic authentication in header")
        digest = hash_secret(key)
        matched = False
        for configured in self._configured:
            matched |= digests_equal(configured, digest)
        if matched or await self._stored.find_active(digest) is not None:
            return
        raise Unauthenticated(
            f"Incorrect API key provided: {key_hint(key)}. "
            "List the server's keys with `kithost keys list`.",
            code="invalid_api_key",
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
