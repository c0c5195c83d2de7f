"""Endpoints' signing secrets, and the Standard Webhooks headers of a delivery.

A secret is never stored: it is derived from a server key (kept in the database, shared by
every process), the endpoint's id and its ``secret_version``, so a rotation is a version bump
and a leaked database row of an endpoint reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SIGNING_KEY_NAME = "webhook_signing_key"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


class WebhookSigner:
    def __init__(self, server_key: str):
        self._key = server_key.encode()

    def secret(self, endpoint_id: str, secret_version: int) -> str:
        """``whsec_`` + base64 of HMAC-SHA256(server key, ``"<endpoint id>:<version>"``)."""
        message = f"{endpoint_id}:{secret_version}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return SECRET_PREFIX + base64.b64encode(digest).decode()

    def headers(
        self, endpoint_id: str, secret_version: int, delivery_id: str, body: bytes, now: float
    ) -> dict[str, str]:
        """``webhook-id``, ``webhook-timestamp`` (this attempt's) and ``webhook-signature``."""
        sent_at = datetime.fromtimestamp(int(now), UTC)
        webhook = Webhook(self.secret(endpoint_id, secret_version))
        signature = webhook.sign(delivery_id, sent_at, body.decode())
        return {
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signature,
        }
