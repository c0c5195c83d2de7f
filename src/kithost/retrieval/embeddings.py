"""Embeddings from the model provider's OpenAI-compatible ``/v1/embeddings``.

The model is ``KITHOST_EMBEDDING_MODEL``, resolved through ``KITHOST_MODEL_ALIASES`` like every
model name (``text-embedding-3-small=nomic-embed-text``), on the provider's base URL and key.
Texts go in batches (``KITHOST_EMBEDDING_BATCH_SIZE`` texts, and a token budget per request);
the openai client retries rate limits, timeouts and 5xx with backoff. Vectors come back scaled
to length 1 as float32, so a dot product is their cosine similarity.

Vectors are asked for as JSON floats, not base64: every compatible server speaks the former.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai
from numpy.typing import NDArray

from kithost.workflows.providers import ProviderConfig
from kithost.workflows.redaction import redact

log = logging.getLogger("kithost.retrieval")

# OpenAI takes at most 2048 inputs and 300,000 tokens in one request; stay well below.
MAX_BATCH_TOKENS = 100_000
RETRIES = 4

Vectors = NDArray[np.float32]
"""One row per text, each of length 1."""


class EmbeddingFailed(RuntimeError):
    """The provider did not embed the texts; the message says why, without secrets."""


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str
    """The name as configured (before aliases)."""
    dimensions: int | None = None
    batch_size: int = 64


class Embedder:
    """Turns texts into unit vectors with one model of the configured provider."""

    def __init__(self, provider: ProviderConfig, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self.model = provider.aliases.get(settings.model, settings.model)
        self.client = openai.AsyncOpenAI(
            # A compatible server often needs no key, but the client insists on one.
            api_key=provider.api_key or "unused",
            base_url=provider.base_url,
            timeout=provider.timeout_seconds,
            max_retries=RETRIES,
        )

    @property
    def label(self) -> str:
        """The model as the banner names it: ``name`` or ``name → alias target``."""
        if self.model == self.settings.model:
            return self.model
        return f"{self.settings.model} → {self.model}"

    async def embed(self, texts: Sequence[str], token_counts: Sequence[int] = ()) -> Vectors:
        """One unit vector per text, in order. ``token_counts`` (when known) size the batches."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        parts = [await self._request(batch) for batch in self._batches(texts, token_counts)]
        widths = {part.shape[1] for part in parts}
        if len(widths) != 1:
            raise EmbeddingFailed(
                f"the embedding model {self.model!r} returned vectors of different lengths"
            )
        return np.vstack(parts)

    async def embed_one(self, text: str) -> Vectors:
        """The vector of one text, as a 1-D array."""
        vectors = await self.embed([text])
        row: Vectors = vectors[0]
        return row

    def _batches(self, texts: Sequence[str], token_counts: Sequence[int]) -> list[list[str]]:
        batches: list[list[str]] = []
        current: list[str] = []
        tokens = 0
        for position, text in enumerate(texts):
            # A rough count when the caller has none: about four characters a token.
            count = token_counts[position] if position < len(token_counts) else len(text) // 4 + 1
            if current and (
                len(current) >= self.settings.batch_size or tokens + count > MAX_BATCH_TOKENS
            ):
                batches.append(current)
                current, tokens = [], 0
            current.append(text)
            tokens += count
        if current:
            batches.append(current)
        return batches

    async def _request(self, texts: list[str]) -> Vectors:
        # An empty string is refused by OpenAI; a lone space embeds as "nothing".
        inputs = [text if text.strip() else " " for text in texts]
        extra: dict[str, Any] = {}
        if self.settings.dimensions is not None:
            extra["dimensions"] = self.settings.dimensions
        try:
            # The raw body: the SDK's typed parsing of thousands of floats costs far more
            # than the request itself.
            raw = await self.client.embeddings.with_raw_response.create(
                model=self.model, input=inputs, encoding_format="float", **extra
            )
            body = json.loads(raw.content)
        except openai.APIStatusError as error:
            raise EmbeddingFailed(
                f"the provider refused to embed with {self.model!r} "
                f"(HTTP {error.status_code}: {_message(error)})"
            ) from None
        except openai.APIConnectionError as error:
            reason = "timed out" if isinstance(error, openai.APITimeoutError) else "is unreachable"
            raise EmbeddingFailed(f"the embedding provider {reason}") from None
        except ValueError:
            raise EmbeddingFailed(f"the answer for {self.model!r} is not JSON") from None
        return self._vectors(body, len(inputs))

    def _vectors(self, body: Any, count: int) -> Vectors:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != count:
            found = len(data) if isinstance(data, list) else 0
            raise EmbeddingFailed(
                f"the embedding model {self.model!r} returned {found} vectors for {count} texts"
            )
        try:
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            vectors = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
        except (TypeError, ValueError, KeyError, AttributeError):
            raise EmbeddingFailed(
                f"the embedding model {self.model!r} returned vectors that are not numbers"
            ) from None
        if vectors.ndim != 2 or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
            raise EmbeddingFailed(f"the embedding model {self.model!r} returned unusable vectors")
        return normalized(vectors)

    async def close(self) -> None:
        await self.client.close()


def normalized(vectors: Vectors) -> Vectors:
    """Rows scaled to length 1 (a zero row stays zero: it matches nothing)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (vectors / norms).astype(np.float32)
    return result


def _message(error: openai.APIStatusError) -> str:
    """The provider's own error message, with anything like a key masked (a 401 may quote it)."""
    body = error.body
    text = error.message
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str) and message:
            text = message
    return redact(text)[:300]
