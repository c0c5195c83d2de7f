"""Runtime configuration: every ``KITHOST_*`` environment variable, in one typed object."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kithost.core.limits import (
    DEFAULT_CONTROL_BODY_BYTES,
    DEFAULT_CONVERSATION_BODY_BYTES,
    DEFAULT_FILE_BYTES,
)
from kithost.core.uploads import DEFAULT_MIME_TYPES

DEFAULT_DATA_DIR = Path("var")
# Seconds between a webhook delivery's attempts: 8 attempts over about a day (as Svix does).
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _seconds_list(value: object, name: str) -> object:
    """``"5,300,1800"`` → ``[5.0, 300.0, 1800.0]``; a value that is not a number of seconds
    (negative, infinite, a word) stops the server from starting, naming the variable."""
    if not isinstance(value, str):
        return value
    seconds = []
    for part in (piece.strip() for piece in value.split(",")):
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise ValueError(
                f"{name} must be comma-separated seconds, such as 5,300,1800; "
                f"{part!r} is not a number of seconds"
            )
        seconds.append(number)
    return seconds


class Settings(BaseSettings):
    """kithost's settings, read from ``KITHOST_*`` variables (and ``.env`` when present)."""

    model_config = SettingsConfigDict(env_prefix="KITHOST_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Where the SQLite file and uploaded bytes live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; sqlite+aiosqlite:///var/kithost.db when unset.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections each process keeps open (SQLite: ignored).",
    )
    db_max_overflow: int = Field(
        default=10,
        ge=0,
        description="Connections a process may open beyond the pool at peaks, closed when "
        "returned; a process holds at most `db_pool_size` + this many.",
    )
    db_pool_recycle_seconds: int = Field(
        default=1800,
        ge=1,
        description="A pooled connection older than this is replaced before use (connections "
        "are not pinged before each use: a lost one answers 503 once and the pool is renewed).",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated admin API keys accepted besides those made by `kithost keys`.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | Literal["auto"] = Field(
        default=1,
        description="Server processes `kithost serve` starts on one port; `auto`: one per core. "
        "More than one needs `KITHOST_REDIS_URL` (shared rate limits) and PostgreSQL.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for state shared by several processes: rate limits, and runs' "
        "event journals (a stream per run) and wake-ups; without it, the database.",
    )
    require_beta_header: bool = Field(
        default=True,
        description="Refuse control-plane calls without `OpenAI-Beta: chatkit_beta=v1`, as hosted.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed to call the conversation and files endpoints.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL browsers reach kithost at, for signed file links; "
        "defaults to the URL each request came in on.",
    )
    upload_mime_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MIME_TYPES),
        description="MIME types accepted for uploads.",
    )
    max_conversation_body_bytes: int = Field(
        default=DEFAULT_CONVERSATION_BODY_BYTES,
        ge=1024,
        description="Largest request body `/v1/chatkit/conversation` reads; a larger one is "
        "refused (413) as soon as it is declared or counted, and the connection closed.",
    )
    max_control_body_bytes: int = Field(
        default=DEFAULT_CONTROL_BODY_BYTES,
        ge=1024,
        description="Largest request body of every other route except uploads (sessions, "
        "threads, runs, vector stores, the console's); 413 past it.",
    )
    max_file_bytes: int = Field(
        default=DEFAULT_FILE_BYTES,
        ge=1024,
        le=DEFAULT_FILE_BYTES,
        description="Largest file `/v1/files` takes (its body may add 64 KB of multipart "
        "framing); at most 512 MB, OpenAI's limit. ChatKit uploads follow each session's "
        "`file_upload.max_file_size`.",
    )
    workflows_dir: Path = Field(
        default=Path("workflows"),
        description="Folder of Agent Builder exports (*.py) and declarative workflows (*.yaml).",
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias="OPENAI_API_KEY",
        description="Key for the model provider (OpenAI, or a compatible server that wants one).",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias="OPENAI_BASE_URL",
        description="Base URL of an OpenAI-compatible model server (e.g. Ollama, vLLM).",
    )
    model_api: Literal["responses", "chat_completions"] = Field(
        default="responses",
        description="Which API the provider speaks: OpenAI's Responses, or Chat Completions.",
    )
    model_aliases: str = Field(
        default="",
        description="Model names in workflows mapped to the provider's: `gpt-4.1=llama3.1:8b,…`.",
    )
    default_model: str | None = Field(default=None, description="Model for agents that name none.")
    hosted_tools: Literal["auto", "passthrough", "local"] = Field(
        default="auto",
        description="Who runs hosted tools (MCP, web search, …): `auto` sends them to OpenAI when "
        "the provider is OpenAI's Responses API and runs local equivalents otherwise; "
        "`passthrough` always sends them (a gateway in front of OpenAI); `local` never does.",
    )
    model_timeout: float = Field(default=120.0, gt=0, description="Seconds per model call.")
    mcp_approval_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds a `HostedMCPTool` call waits for the user's Approve / Deny before "
        "it expires (treated as denied; the parked run ends).",
    )
    mcp_tools_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Seconds an MCP server's tool list is reused (per URL and credentials).",
    )
    web_search_url: str | None = Field(
        default=None,
        description="A SearXNG instance (its JSON API) behind `WebSearchTool` on providers "
        "other than OpenAI, e.g. `http://127.0.0.1:8888`.",
    )
    tavily_api_key: SecretStr | None = Field(
        default=None, description="Tavily key for `WebSearchTool` when no SearXNG URL is set."
    )
    tavily_base_url: str = Field(
        default="https://api.tavily.com", description="Tavily's API (a proxy, or a test fake)."
    )
    brave_api_key: SecretStr | None = Field(
        default=None,
        description="Brave Search key for `WebSearchTool` when neither SearXNG nor Tavily is set.",
    )
    brave_base_url: str = Field(
        default="https://api.search.brave.com",
        description="Brave Search's API (a proxy, or a test fake).",
    )
    web_search_timeout: float = Field(
        default=15.0, gt=0, description="Seconds a web search may take before the model is told."
    )
    embedding_model: str | None = Field(
        default=None,
        description="Embedding model for hybrid file search (`text-embedding-3-small`, or the "
        "provider's own, e.g. `nomic-embed-text`), called through the provider's "
        "`/v1/embeddings` and `KITHOST_MODEL_ALIASES`; unset: keyword search only.",
    )
    embedding_dimensions: int | None = Field(
        default=None,
        gt=0,
        description="Vector length to ask the embedding model for (`dimensions`; only models "
        "that accept it, such as `text-embedding-3-*`); unset: the model's own.",
    )
    embedding_batch_size: int = Field(
        default=64, gt=0, le=2048, description="Texts per `/v1/embeddings` request."
    )
    log_level: str = "info"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="How log lines are written: `json` (one object a line, for a log "
        "collector), `text` (for people), or `auto`: text when stderr is a terminal, else json.",
    )
    metrics: Literal["admin", "public", "off"] = Field(
        default="admin",
        description="Who may read `GET /metrics` (Prometheus): `admin` (an admin API key as "
        "Bearer), `public` (anyone who reaches the port), or `off` (404).",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection may take to send a request's headers (from its "
        "first byte, or from connecting); then 408 and the connection is closed.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request body may take to arrive, plus a second for every "
        "`KITHOST_BODY_MIN_BYTES_PER_SECOND` received; then 408 and the connection is closed.",
    )
    body_min_bytes_per_second: float = Field(
        default=1024.0,
        ge=0,
        description="The slowest average rate a long request body may arrive at (past "
        "`KITHOST_BODY_TIMEOUT_SECONDS`); 0 makes that timeout a limit on the whole body.",
    )
    keep_alive_seconds: int = Field(
        default=5,
        gt=0,
        description="Seconds an idle connection is kept open for a next request (behind a "
        "reverse proxy that reuses connections, more than the proxy's own idle timeout).",
    )
    max_header_bytes: int = Field(
        default=65536,
        ge=4096,
        description="Largest request line and headers a connection may send (about: what "
        "arrives in one read on top is not counted); then 431 and the connection is closed.",
    )
    ingestion_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a process holds a file it is ingesting without renewing; a file "
        "whose process died is taken over by another (or the restarted one) after this.",
    )
    runs_detach: Literal["header", "always"] = Field(
        default="header",
        description="When a closed connection only detaches from its run (the answer goes on): "
        "`header` for clients that send `X-Kithost-Detach: true` (a close is a Stop otherwise), "
        "`always` for every client.",
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long running answers may finish (while `/healthz` says "
        "`draining`) before the rest are interrupted with their partial answers saved.",
    )
    drain_notice_seconds: float = Field(
        default=0.0,
        ge=0,
        description="On SIGTERM, how long to go on serving everything while `/healthz` already "
        "answers 503, before the drain: enough for a load balancer's health check to take the "
        "process out (its check interval times its fall count), so no request meets a closed port.",
    )
    run_events_ttl: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a finished run's events stay replayable (`/v1/chatkit/runs/{id}/"
        "events`); then 410. The thread's items are the lasting record.",
    )
    run_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a process holds a run without renewing; a run whose process "
        "died is marked `interrupted` (its partial answer kept) by another after this.",
    )
    server_turns_per_minute: int = Field(
        default=0,
        ge=0,
        description="Server-side turns (`POST /v1/chatkit/threads`, `…/messages`) an admin key "
        "may start per minute; 0 = no limit (the admin key is trusted).",
    )
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_RETRY_SCHEDULE),
        description="Comma-separated seconds between a webhook delivery's attempts (the "
        "first is at once): the default makes 8 attempts over about a day; then `failed`.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a webhook endpoint has to answer a delivery (2xx) before the "
        "attempt counts as failed.",
    )
    demo_signin: bool = Field(
        default=False,
        description="Serve the demo sign-in (`POST /demo/session`) that the chat page at `/` "
        "uses: it mints a session for any user and workflow, so enable it only for local demos.",
    )
    thread_retention_days: int = Field(
        default=0,
        ge=0,
        description="Days a thread is kept after its last activity, then deleted with its "
        "items, files, traces and runs; 0 = forever. A YAML workflow's `retention_days` "
        "overrides it for that workflow.",
    )
    session_purge_days: int = Field(
        default=30,
        ge=0,
        description="Days after a session expired or was cancelled before its row (and its "
        "rate-limit key) is deleted; 0 = never.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds between retention sweeps in each process (one sweeps at a time); "
        "0 = none in this process (run `kithost retention run` from cron instead).",
    )

    @field_validator("api_keys", "cors_origins", "upload_mime_types", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _retry_schedule(cls, value: object) -> object:
        return _seconds_list(value, "KITHOST_WEBHOOK_RETRY_SCHEDULE")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'kithost.db'}"
