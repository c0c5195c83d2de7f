"""Fusing the keyword and vector rankings (reciprocal rank fusion)."""

from __future__ import annotations

# The usual RRF constant: damps the weight of the very top ranks.
RRF_K = 60


def fuse(
    keyword: list[tuple[int, float]], vector: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    """Both rankings (chunk id, score), best first, fused into one of at most ``limit``.

    The fused score is scaled to [0, 1]: 1 for a chunk ranked first in both lists.
    """
    scores: dict[int, float] = {}
    for ranking in (keyword, vector):
        for rank, (chunk_id, _score) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = 2.0 / (RRF_K + 1)
    ordered = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)[:limit]
    return [(chunk_id, score / best) for chunk_id, score in ordered]
