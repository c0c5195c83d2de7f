"""The domain objects of files and vector stores, as the API, the CLI and FileSearchTool see them.

Times are Unix seconds as floats (the REST view truncates them). A vector store file's ``id`` is
the id of the file it holds, as on OpenAI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FileStatus = Literal["in_progress", "completed", "cancelled", "failed"]
StoreStatus = Literal["expired", "in_progress", "completed"]
ErrorCode = Literal["server_error", "unsupported_file", "invalid_file"]
SearchMode = Literal["keyword", "hybrid"]
# Attribute values as OpenAI allows them: strings, numbers and booleans.
AttributeValue = str | int | float | bool
Attributes = dict[str, AttributeValue]


@dataclass(frozen=True)
class StoredFile:
    """A file uploaded to ``/v1/files``; its bytes live in blob storage under its id."""

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: float
    sha256: str = ""
    expires_at: int | None = None


@dataclass(frozen=True)
class FileCounts:
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.in_progress + self.completed + self.failed + self.cancelled


@dataclass(frozen=True)
class ExpiresAfter:
    """OpenAI's only anchor is ``last_active_at``."""

    days: int
    anchor: Literal["last_active_at"] = "last_active_at"


@dataclass(frozen=True)
class VectorStore:
    id: str
    name: str
    metadata: dict[str, str]
    status: StoreStatus
    file_counts: FileCounts
    usage_bytes: int
    created_at: float
    last_active_at: float
    expires_after: ExpiresAfter | None = None
    expires_at: int | None = None


@dataclass(frozen=True)
class FileError:
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class VectorStoreFile:
    id: str  # the file's id
    vector_store_id: str
    status: FileStatus
    last_error: FileError | None
    attributes: Attributes
    chunking_strategy: dict[str, Any]  # the wire form: {"type": "static", "static": {...}}
    usage_bytes: int
    created_at: float
    filename: str = ""  # extension, for the CLI and the console
    batch_id: str | None = None


@dataclass(frozen=True)
class FileBatch:
    id: str
    vector_store_id: str
    status: FileStatus
    file_counts: FileCounts
    created_at: float


@dataclass(frozen=True)
class BatchEntry:
    """One file of a batch (or of ``create_store(file_ids=...)``), with its own settings."""

    file_id: str
    attributes: Attributes | None = None
    chunking_strategy: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExpectedFile:
    """A file a store had on OpenAI that has not been added here yet (``kithost import``).

    ``vector-stores add`` matches local files to these by ``filename`` so that the hosted
    ``attributes`` carry over; adding a file of that name to the store removes the entry.
    """

    vector_store_id: str
    filename: str
    attributes: Attributes = field(default_factory=dict)
    hosted_file_id: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A piece of a file's text in one store; ``id`` is the integer key the vector index uses."""

    id: int
    vector_store_id: str
    file_id: str
    index: int
    text: str
    token_count: int


@dataclass(frozen=True)
class SearchHit:
    """One ranked result: a chunk of a file (OpenAI returns one result per chunk)."""

    file_id: str
    filename: str
    score: float
    attributes: Attributes
    chunks: list[str]
    vector_store_id: str = ""
    chunk_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResults:
    """What a search returns: the hits, the queries as searched, and how it ranked them."""

    hits: list[SearchHit]
    search_query: list[str]
    mode: SearchMode
