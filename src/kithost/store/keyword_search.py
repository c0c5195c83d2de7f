"""Keyword ranking of chunks: SQLite FTS5 (BM25) or PostgreSQL full-text search (ts_rank_cd).

Both see only chunks of ``completed`` files (a file being re-ingested never shows half its
chunks). BM25 and ts_rank_cd have no fixed scale (BM25 is near zero on a store of a few files),
so scores are relative to the best match of the query: it scores 1, and a chunk half as
relevant 0.5, on both databases.
"""

from __future__ import annotations

import re

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

# Words that match nearly every chunk: dropped from a query unless nothing else is left.
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "how",
    "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "that", "the", "their",
    "then", "there", "these", "they", "this", "to", "was", "were", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your", "do", "does", "did", "can", "could",
    "should", "would", "about",
})
# fmt: on
MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+")


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, lower-cased, without stopwords (unless all are)."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(query)))
    kept = [word for word in words if word not in STOPWORDS]
    return (kept or words)[:MAX_TERMS]


_SQLITE = """
SELECT c.id AS chunk_id, -bm25(search_index_fts) AS score
FROM search_index_fts
JOIN vector_store_chunks AS c ON c.id = search_index_fts.rowid
JOIN vector_store_files AS f ON f.vector_store_id = c.vector_store_id AND f.id = c.file_id
WHERE search_index_fts MATCH :query
  AND c.vector_store_id IN :store_ids
  AND f.status = 'completed'
  {files}
ORDER BY bm25(search_index_fts)
LIMIT :limit
"""

# The matches come from the GIN index alone (a materialized CTE with no other condition),
# then the store, status and file conditions: planned together, PostgreSQL often tests every
# chunk of the store instead (see keyword_ranking).
_POSTGRES = """
WITH hits AS MATERIALIZED (
  SELECT c.id, c.vector_store_id, c.file_id, ts_rank_cd(c.search_index_tsv, q.query) AS score
  FROM vector_store_chunks AS c, to_tsquery('english', :query) AS q(query)
  WHERE c.search_index_tsv @@ q.query
)
SELECT c.id AS chunk_id, c.score
FROM hits AS c
JOIN vector_store_files AS f ON f.vector_store_id = c.vector_store_id AND f.id = c.file_id
WHERE c.vector_store_id IN :store_ids
  AND f.status = 'completed'
  {files}
ORDER BY c.score DESC, c.id
LIMIT :limit
"""


async def keyword_ranking(
    engine: AsyncEngine,
    store_ids: list[str],
    query: str,
    limit: int,
    file_ids: list[str] | None = None,
) -> list[tuple[int, float]]:
    """The best ``limit`` chunks for ``query`` as (chunk id, score), best first.

    ``file_ids`` (when given) keeps only those files: the attribute filter's survivors.
    """
    terms = query_terms(query)
    if not terms or not store_ids or file_ids == []:
        return []
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        # Terms are letters and digits only, so they cannot break the tsquery syntax.
        expression = " | ".join(terms)
        template = _POSTGRES
    else:
        expression = " OR ".join(f'"{term}"' for term in terms)
        template = _SQLITE
    statement = text(
        template.format(files="AND c.file_id IN :file_ids" if file_ids is not None else "")
    ).bindparams(bindparam("store_ids", expanding=True))
    params: dict[str, object] = {"query": expression, "store_ids": store_ids, "limit": limit}
    if file_ids is not None:
        statement = statement.bindparams(bindparam("file_ids", expanding=True))
        params["file_ids"] = file_ids
    async with engine.connect() as conn:
        if postgres:
            # The planner prices a scan that tests every chunk's tsvector as cheap (it does not
            # count reading them from TOAST) and passes the GIN index by: 30 ms instead of 3 to
            # 8 at 10,000 chunks (BENCHMARKS.md, B5). SSD page costs, for this transaction.
            await conn.execute(text("SET LOCAL random_page_cost = 1.1"))
        rows = (await conn.execute(statement, params)).all()
    raw = [(int(row.chunk_id), max(float(row.score), 0.0)) for row in rows]
    best = max((score for _chunk, score in raw), default=0.0)
    if best <= 0.0:
        return [(chunk_id, 1.0) for chunk_id, _score in raw]
    return [(chunk_id, score / best) for chunk_id, score in raw]
