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
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
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
