"""Hybrid ranking: reciprocal rank fusion (RRF) of the keyword and vector rankings.

RRF adds ``1 / (k + rank)`` over the rankings a chunk appears in: it needs no calibration
between BM25-style and cosine scores, which live on unrelated scales, and a chunk that both
rankings like beats one that only one of them loves. The fused score is scaled to [0, 1] (1:
first in every ranking that found anything), the range OpenAI's scores have, so
``ranking_options.score_threshold`` means the same in both modes.

A search calls ``vector_ranking`` (every query string, through the index) and then ``fuse``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

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


def fuse_rankings(rankings: Sequence[Ranked], limit: int) -> Ranked:
    """Any number of rankings fused into one of at most ``limit``."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _score) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    used = sum(1 for ranking in rankings if ranking)
    if not used:
        return []
    best = used / (RRF_K + 1)
    # Ties (same ranks) keep the order of the first ranking that had them.
    ordered = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)[: max(limit, 0)]
    return [(chunk_id, min(1.0, score / best)) for chunk_id, score in ordered]


def fuse(keyword: Ranked, vector: Ranked, limit: int) -> Ranked:
    """The keyword and vector rankings fused into one of at most ``limit``.

    A chunk first in both scores 1; when only one ranking found anything, its order is kept
    and its first chunk scores 1.
    """
    return fuse_rankings([keyword, vector], limit)


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
