"""The schema. Alembic migrations in ``store/migrations`` create exactly these tables.

Times are Unix seconds as floats (the REST view truncates them to integers); ``seq`` columns give
rows with equal times a stable order, which cursor pagination needs.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONValue = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT identity.
Seq = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(32), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("workflow_id", String(200), nullable=False),
    Column("workflow_version", String(200), nullable=True),
    Column("state_variables", JSONValue, nullable=True),
    Column("tracing_enabled", Boolean, nullable=False),
    Column("configuration", JSONValue, nullable=False),
    Column("max_requests_per_1_minute", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("cancelled_at", Double, nullable=True),
    # Uploads made through this session so far; bounded by configuration.file_upload.max_files.
    Column("upload_count", Integer, nullable=False, server_default="0"),
    Index("ix_sessions_user_created", "user_id", "created_at", "seq"),
    Index("ix_sessions_created", "created_at", "seq"),
)

threads = Table(
    "threads",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("workflow_id", String(200), nullable=True),
    Column("title", Text, nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_reason", Text, nullable=True),
    Column("allowed_image_domains", JSONValue, nullable=True),
    Column("metadata", JSONValue, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index("ix_threads_user_created", "user_id", "created_at", "seq"),
    Index("ix_threads_created", "created_at", "seq"),
)

thread_items = Table(
    "thread_items",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "thread_id",
        String(64),
        ForeignKey("threads.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("type", String(40), nullable=False),
    Column("data", JSONValue, nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_thread_items_thread_created", "thread_id", "created_at", "seq"),
    Index("ix_thread_items_type_created", "type", "created_at"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("thread_id", String(64), nullable=True, index=True),
    Column("name", Text, nullable=False),
    Column("mime_type", String(200), nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("storage_key", String(200), nullable=True),
    Column("uploaded", Boolean, nullable=False, server_default=false()),
    Column("data", JSONValue, nullable=False),
    Column("created_at", Double, nullable=False),
)

# Thumbs up or down on assistant items (``items.feedback``); one verdict per item, the latest.
item_feedback = Table(
    "item_feedback",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column(
        "thread_id",
        String(64),
        ForeignKey("threads.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(16), nullable=False),
    Column("created_at", Double, nullable=False),
)

# Spans of workflow runs whose session has tracing enabled; never sent to OpenAI.
trace_spans = Table(
    "trace_spans",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("span_id", String(100), nullable=False),
    Column("trace_id", String(100), nullable=False),
    Column("parent_id", String(100), nullable=True),
    Column("thread_id", String(64), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("workflow_id", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("name", Text, nullable=True),
    Column("started_at", Double, nullable=True),
    Column("ended_at", Double, nullable=True),
    Column("data", JSONValue, nullable=False),
    Column("error", JSONValue, nullable=True),
    Index("ix_trace_spans_thread", "thread_id", "seq"),
)

# Server-wide secrets (the URL-signing key), made on first use so that every process sharing the
# database signs and checks the same way with no configuration.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)


# --- Files and vector stores (issue 13: local file search) ------------------------------------

# Search structures that only one database has (SQLite's FTS5 tables and their shadow tables,
# PostgreSQL's tsvector column and GIN index, sqlite-vec/pgvector objects) are made by raw SQL in
# migrations or at start, and all carry this prefix so schema comparisons leave them out.
DERIVED_PREFIX = "search_index_"


def is_derived(name: str | None) -> bool:
    """Whether a database object is a dialect-specific search structure (see DERIVED_PREFIX)."""
    return bool(name) and str(name).startswith(DERIVED_PREFIX)


def compared(name: str | None, _type: str, _parents: object) -> bool:
    """Alembic's ``include_name`` hook: schema comparisons skip derived search structures."""
    return not is_derived(name)


# ``/v1/files``: the bytes live in blob storage under the id.
files = Table(
    "files",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("filename", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Index("ix_files_created", "created_at", "seq"),
)

vector_stores = Table(
    "vector_stores",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("metadata", JSONValue, nullable=False),
    Column("expires_after_days", Integer, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("last_active_at", Double, nullable=False),
    Index("ix_vector_stores_created", "created_at", "seq"),
)

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("cancelled", Boolean, nullable=False, server_default=false()),
    Column("created_at", Double, nullable=False),
)

# A file in a store, and its ingestion job: ``in_progress`` rows are claimed by a worker with a
# lease (``lease_owner`` until ``lease_expires_at``); a lapsed lease lets any process take over.
vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("batch_id", String(64), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("last_error", JSONValue, nullable=True),
    Column("attributes", JSONValue, nullable=False),
    Column("chunking_strategy", JSONValue, nullable=False),
    Column("usage_bytes", BigInteger, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("vector_store_id", "id"),
    Index("ix_vector_store_files_store_created", "vector_store_id", "created_at", "seq"),
    Index("ix_vector_store_files_status_lease", "status", "lease_expires_at"),
    Index("ix_vector_store_files_id", "id"),
)

# Chunks of a file's text in one store. ``id`` is the integer key that keyword and vector indexes
# use (SQLite FTS5's rowid, sqlite-vec's rowid).
vector_store_chunks = Table(
    "vector_store_chunks",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("file_id", String(64), nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("token_count", Integer, nullable=False),
    ForeignKeyConstraint(
        ["vector_store_id", "file_id"],
        ["vector_store_files.vector_store_id", "vector_store_files.id"],
        ondelete="CASCADE",
    ),
    Index("ix_vector_store_chunks_store_file", "vector_store_id", "file_id", "chunk_index"),
)

# One embedding per chunk (filled by the VectorIndex): float32 values, little-endian.
chunk_embeddings = Table(
    "chunk_embeddings",
    metadata,
    Column(
        "chunk_id",
        Seq,
        ForeignKey("vector_store_chunks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("vector_store_id", String(64), nullable=False, index=True),
    Column("model", String(200), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
)

# Files a store had on OpenAI, recorded by ``kithost import --vector-stores`` until added here.
vector_store_expected_files = Table(
    "vector_store_expected_files",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("filename", Text, nullable=False),
    Column("attributes", JSONValue, nullable=False),
    Column("hosted_file_id", String(64), nullable=True),
)

# A streamed turn's life (runs/): who owns it, how far its journal goes, and how it ended.
runs = Table(
    "runs",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    # Set once known: a ``threads.create`` run learns its thread from its first event.
    Column("thread_id", String(64), nullable=True),
    Column("session_id", String(64), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("workflow_id", String(200), nullable=False),
    Column("workflow_version", String(200), nullable=True),
    Column("request_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("ended_at", Double, nullable=True),
    # The sequence number of the run's last journaled event.
    Column("last_event_id", BigInteger, nullable=False, server_default="0"),
    Column("owner", String(128), nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column("cancel_requested_at", Double, nullable=True),
    # Seconds from the run's start to its first assistant text delta (the Overview's latency).
    Column("first_token_seconds", Double, nullable=True),
    Index("ix_runs_thread_created", "thread_id", "created_at", "seq"),
    Index("ix_runs_created", "created_at"),
    Index("ix_runs_status_lease", "status", "lease_expires_at"),
    Index("ix_runs_ended", "ended_at"),
    # At most one live run per thread: the database settles two requests racing for it.
    Index(
        "uq_runs_thread_in_progress",
        "thread_id",
        unique=True,
        sqlite_where=text("status = 'in_progress'"),
        postgresql_where=text("status = 'in_progress'"),
    ),
)

# The journal on the database (no Redis): a run's SSE events, numbered from 1.
run_events = Table(
    "run_events",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

# --- Webhooks (issue 16): endpoints, and the outbox of their deliveries ------------------------

# Where events are POSTed. The signing secret is never stored: it is derived from a server
# secret, the endpoint's id and ``secret_version`` (webhooks/signing.py); a rotation bumps it.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=True),
    # Event types this endpoint receives (a JSON list of strings).
    Column("events", JSONValue, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("secret_version", Integer, nullable=False, server_default="1"),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# The outbox: one row per event and endpoint, written in the transaction that made the event
# happen (a run's end, a thread's creation), then delivered by whichever process claims it.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    # The ``webhook-id`` header: receivers de-duplicate on it, so a resend keeps it.
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "endpoint_id",
        String(64),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_type", String(64), nullable=False),
    # The exact JSON body that is signed and sent.
    Column("payload", LargeBinary, nullable=False),
    # pending → delivered | failed (out of attempts); a resend makes it pending again.
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Double, nullable=True),
    # A process delivering it holds a lease, so that exactly one process sends each attempt.
    Column("owner", String(128), nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column("last_attempt_at", Double, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("delivered_at", Double, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at", "seq"),
)

# A run's model calls, per model (a workflow's agents may use several), written with its end.
# Gone with the run (a deleted thread, an erased user, retention).
run_usage = Table(
    "run_usage",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
)

# Requests refused by a rate limit (429), counted per minute, limit and workflow: the Overview's
# refusals (``/metrics`` counts them too, but only in memory). No user: nothing personal here.
rate_limit_refusals = Table(
    "rate_limit_refusals",
    metadata,
    Column("minute", BigInteger, primary_key=True),
    Column("limit_name", String(32), primary_key=True),
    Column("workflow_id", String(200), primary_key=True),
    Column("count", BigInteger, nullable=False),
)
