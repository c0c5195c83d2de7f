"""The OpenAI wire forms of files, vector stores, their files, batches and search results."""

from __future__ import annotations

from typing import Any

from kithost.retrieval.models import (
    FileBatch,
    FileCounts,
    SearchResults,
    StoredFile,
    VectorStore,
    VectorStoreFile,
)


def file_wire(record: StoredFile) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": int(record.created_at),
        "expires_at": record.expires_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "status_details": None,
    }


def counts_wire(counts: FileCounts) -> dict[str, int]:
    return {
        "in_progress": counts.in_progress,
        "completed": counts.completed,
        "failed": counts.failed,
        "cancelled": counts.cancelled,
        "total": counts.total,
    }


def store_wire(store: VectorStore) -> dict[str, Any]:
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": int(store.created_at),
        "name": store.name,
        "usage_bytes": store.usage_bytes,
        "file_counts": counts_wire(store.file_counts),
        "status": store.status,
        "expires_after": (
            {"anchor": store.expires_after.anchor, "days": store.expires_after.days}
            if store.expires_after
            else None
        ),
        "expires_at": store.expires_at,
        "last_active_at": int(store.last_active_at),
        "metadata": store.metadata,
    }


def store_file_wire(item: VectorStoreFile) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "vector_store.file",
        "usage_bytes": item.usage_bytes,
        "created_at": int(item.created_at),
        "vector_store_id": item.vector_store_id,
        "status": item.status,
        "last_error": (
            {"code": item.last_error.code, "message": item.last_error.message}
            if item.last_error
            else None
        ),
        "chunking_strategy": item.chunking_strategy,
        "attributes": item.attributes,
    }


def batch_wire(batch: FileBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": int(batch.created_at),
        "vector_store_id": batch.vector_store_id,
        "status": batch.status,
        "file_counts": counts_wire(batch.file_counts),
    }


def search_wire(results: SearchResults) -> dict[str, Any]:
    """OpenAI's search page; ``search_mode`` (keyword or hybrid) is kithost's extension."""
    return {
        "object": "vector_store.search_results.page",
        "search_query": results.search_query,
        "data": [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "attributes": hit.attributes,
                "content": [{"type": "text", "text": text} for text in hit.chunks],
            }
            for hit in results.hits
        ],
        "has_more": False,
        "next_page": None,
        "search_mode": results.mode,
    }
