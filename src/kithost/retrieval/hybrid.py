"""Hybrid ranking: reciprocal rank fusion (RRF) of the keyword and vector rankings.

RRF adds ``1 / (k + rank)`` over the rankings a chunk appears in: it needs no calibration
between BM25-style and cosine scores, which live on unrelated scales, and a chunk that both
rankings like beats one that only one of them loves. The fused score is scaled to [0, 1] (1:
first in every ranking that found anything), the range OpenAI's scores have, so
``ranking_options.score_threshold`` means the same in both modes.

OpenAI's ``ranking_options.hybrid_search`` (``embedding_weight``, ``text_weight``) weighs the
two rankings' terms, as OpenAI describes it; by default they weigh the same.

A search calls ``vector_ranking`` (every query string, through the index) and then ``fuse``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from kithost.core.errors import InvalidRequest
from kithost.retrieval.embeddings import EmbeddingFailed
from kithost.retrieval.vectors import VectorIndex

log = logging.getLogger("kithost.retrieval")

Ranked = list[tuple[int, float]]
"""(chunk id, score), best first."""

# The usual RRF constant: damps the weight of the very top ranks.
RRF_K = 60


def candidates(limit: int) -> int:
    """How many chunks to take from each ranking before fusing ``limit`` of them: a chunk
    that is 30th by keywords and 5th by meaning should still make the top 10."""
    return max(50, limit * 4)


@dataclass(frozen=True)
class Weights:
    text: float = 1.0
    embedding: float = 1.0


def hybrid_weights(ranking_options: dict[str, Any] | None) -> Weights:
    """``ranking_options.hybrid_search`` as weights (400 when malformed)."""
    hybrid = (ranking_options or {}).get("hybrid_search")
    if hybrid is None:
        return Weights()
    if not isinstance(hybrid, dict):
        raise InvalidRequest(
            "Invalid type for 'ranking_options.hybrid_search': expected an object.",
            param="ranking_options.hybrid_search",
            code="invalid_type",
        )
    values: dict[str, float] = {}
    for name in ("text_weight", "embedding_weight"):
        value = hybrid.get(name, 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidRequest(
                f"Invalid 'ranking_options.hybrid_search.{name}': expected a number of 0 or more.",
                param=f"ranking_options.hybrid_search.{name}",
                code="invalid_value",
            )
        values[name] = float(value)
    if values["text_weight"] == 0 and values["embedding_weight"] == 0:
        raise InvalidRequest(
            "Invalid 'ranking_options.hybrid_search': the weights cannot both be 0.",
            param="ranking_options.hybrid_search",
            code="invalid_value",
        )
    return Weights(values["text_weight"], values["embedding_weight"])


def fuse_rankings(
    rankings: Sequence[Ranked], limit: int, weights: Sequence[float] | None = None
) -> Ranked:
    """Any number of rankings fused into one of at most ``limit`` (``weights``: one per
    ranking, 1 each by default)."""
    factors = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, factor in zip(rankings, factors, strict=True):
        for rank, (chunk_id, _score) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + factor / (RRF_K + rank + 1)
    best = sum(factor for ranking, factor in zip(rankings, factors, strict=True) if ranking)
    best /= RRF_K + 1
    if best <= 0:  # only rankings weighted 0 found anything: they come, scored 0
        best = 1.0
    # Ties (same ranks) keep the order of the first ranking that had them.
    ordered = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)[: max(limit, 0)]
    return [(chunk_id, min(1.0, score / best)) for chunk_id, score in ordered]


def fuse(keyword: Ranked, vector: Ranked, limit: int, weights: Weights | None = None) -> Ranked:
    """The keyword and vector rankings fused into one of at most ``limit``.

    A chunk first in both scores 1; when only one ranking found anything, its order is kept
    and its first chunk scores 1. What only a ranking weighted 0 found scores 0, last.
    """
    chosen = weights or Weights()
    return fuse_rankings([keyword, vector], limit, [chosen.text, chosen.embedding])


async def vector_ranking(
    index: VectorIndex,
    store_ids: list[str],
    queries: Sequence[str],
    limit: int,
    allowed_chunk_ids: Collection[int] | None,
) -> Ranked | None:
    """The chunks nearest to the queries (one ranking per query, fused), or None when the
    embedding provider cannot embed them: the search then ranks by keywords alone (and says
    so in ``search_mode``), rather than failing."""
    rankings: list[Ranked] = []
    for query in queries:
        if not query.strip():
            continue
        try:
            rankings.append(await index.nearest(store_ids, query, limit, allowed_chunk_ids))
        except EmbeddingFailed as failure:
            log.warning("vector search skipped, keyword ranking only: %s", failure)
            return None
    if len(rankings) == 1:
        return rankings[0]
    return fuse_rankings(rankings, limit)
