"""``POST /v1/embeddings``: deterministic vectors that make word overlap mean similarity.

Each text is a bag of its lower-cased words; every word adds ±1 to one coordinate chosen by a
hash of the word, and the sum is scaled to length 1. Texts that share words point the same
way, texts that share none are nearly orthogonal, and the same text always gets the same
vector, in this process and any other: enough for search tests and benchmarks to mean
something without a real model. ``dimensions`` is honoured (default ``DEFAULT_DIMENSIONS``),
and ``encoding_format: base64`` (what the openai SDK asks for) gives little-endian float32.
A scripted ``error(...)`` reply makes the call fail, as for model calls.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from typing import Any

from tests.support.fake_model.recorded import ModelRequest

DEFAULT_DIMENSIONS = 256
MAX_DIMENSIONS = 4096
_WORD = re.compile(r"\w+")


def vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The fake's embedding of ``text`` (tests may compute expectations with it)."""
    values = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        values[number % dimensions] += 1.0 if (number >> 63) & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in values))
    if norm == 0:
        values[0] = 1.0  # no words: still a valid unit vector
        return values
    return [value / norm for value in values]


def problem(body: dict[str, Any]) -> str | None:
    """Why OpenAI would refuse ``body`` with a 400, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "Missing required parameter: 'model'."
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        return "'input' must be a non-empty string or array of strings."
    if not all(isinstance(text, str) and text for text in texts):
        return "'input' must not contain empty or non-string items."
    if len(texts) > 2048:
        return "'input' must have at most 2048 items."
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        return f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}."
    if body.get("encoding_format", "float") not in ("float", "base64"):
        return "'encoding_format' must be 'float' or 'base64'."
    return None


def body(request: ModelRequest) -> dict[str, Any]:
    texts = request.body["input"]
    texts = [texts] if isinstance(texts, str) else texts
    dimensions = request.body.get("dimensions") or DEFAULT_DIMENSIONS
    as_base64 = request.body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        values = vector(text, dimensions)
        encoded: Any = values
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(_WORD.findall(text)) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
