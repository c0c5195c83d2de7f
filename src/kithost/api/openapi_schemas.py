"""What kithost's JSON responses look like, as pydantic models for the OpenAPI document.

The routes build their bodies with ``to_wire()`` functions; these models only describe them
(tests/test_openapi.py checks real responses against them, and the hosted ones against the
official SDK's types). Every field is required, ``X | None`` where the value may be null, and
no other field is sent (``additionalProperties: false``). Names follow the SDK's types.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chatkit.types import (
    Attachment,
    ChatKitReq,
    Page,
    SyncCustomActionResponse,
    Thread,
    ThreadItem,
    ThreadStreamEvent,
    TranscriptionResult,
)
from pydantic import BaseModel, ConfigDict, Field

from kithost.core.limits import MAX_VECTOR_STORE_FILES
from kithost.core.metadata import MAX_KEY_LENGTH, MAX_KEYS, MAX_VALUE_LENGTH
from kithost.core.sessions import (
    MAX_STATE_KEY_LENGTH,
    MAX_STATE_VARIABLES,
    SessionCreate,
    SessionStatus,
    WorkflowParam,
)
from kithost.retrieval.chunking import MAX_MAX_TOKENS, MIN_MAX_TOKENS
from kithost.retrieval.filters import COMPARISONS, COMPOUNDS
from kithost.retrieval.models import ErrorCode, FileStatus, SearchMode, StoreStatus
from kithost.runs.model import RunStatus
from kithost.webhooks.model import DeliveryStatus as WebhookDeliveryStatus
from kithost.webhooks.model import EventType as WebhookEventType
from kithost.workflows.capabilities import FindingStatus

Scalar = str | float | bool  # state variables and file attributes: strings, numbers, booleans
NO_NUL = "^[^\\u0000]*$"  # a string the server refuses when it holds a NUL character


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _List(_Wire):
    """The list envelope every ``GET`` list answers (``data`` is set by each subclass)."""

    object: Literal["list"]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ErrorObject(_Wire):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(_Wire):
    """The OpenAI error envelope, on every failing ``/v1`` response."""

    error: ErrorObject


# -- sessions ---------------------------------------------------------------------------------
class ChatKitWorkflowTracing(_Wire):
    enabled: bool


class ChatKitWorkflow(_Wire):
    id: str
    version: str | None
    state_variables: dict[str, Scalar] | None
    tracing: ChatKitWorkflowTracing


class ChatSessionAutomaticThreadTitling(_Wire):
    enabled: bool


class ChatSessionFileUpload(_Wire):
    enabled: bool
    max_file_size: int | None
    max_files: int | None


class ChatSessionHistory(_Wire):
    enabled: bool
    recent_threads: int | None


class ChatSessionChatKitConfiguration(_Wire):
    automatic_thread_titling: ChatSessionAutomaticThreadTitling
    file_upload: ChatSessionFileUpload
    history: ChatSessionHistory


class ChatSessionRateLimits(_Wire):
    max_requests_per_1_minute: int


class ChatSession(_Wire):
    """``client_secret`` is shown only by ``sessions.create``; ``""`` everywhere else."""

    id: str
    object: Literal["chatkit.session"]
    status: SessionStatus
    chatkit_configuration: ChatSessionChatKitConfiguration
    client_secret: str
    expires_at: int
    max_requests_per_1_minute: int
    rate_limits: ChatSessionRateLimits
    user: str
    workflow: ChatKitWorkflow


class ChatSessionList(_List):
    data: list[ChatSession]


# -- threads ----------------------------------------------------------------------------------
class ChatKitThreadActiveStatus(_Wire):
    type: Literal["active"]


class ChatKitThreadLockedStatus(_Wire):
    type: Literal["locked"]
    reason: str | None


class ChatKitThreadClosedStatus(_Wire):
    type: Literal["closed"]
    reason: str | None


class ChatKitThread(_Wire):
    id: str
    object: Literal["chatkit.thread"]
    created_at: int
    title: str | None
    status: Annotated[
        ChatKitThreadActiveStatus | ChatKitThreadLockedStatus | ChatKitThreadClosedStatus,
        Field(discriminator="type"),
    ]
    user: str


class ChatKitThreadList(_List):
    data: list[ChatKitThread]


class ThreadDeleteResponse(_Wire):
    id: str
    object: Literal["chatkit.thread.deleted"]
    deleted: bool


# -- thread items -----------------------------------------------------------------------------
class _Item(_Wire):
    id: str
    object: Literal["chatkit.thread_item"]
    created_at: int
    thread_id: str


class ChatKitInputText(_Wire):
    type: Literal["input_text"]
    text: str


class ChatKitQuotedText(_Wire):
    type: Literal["quoted_text"]
    text: str


class ChatKitAttachment(_Wire):
    id: str
    type: Literal["image", "file"]
    name: str
    mime_type: str
    preview_url: str | None


class ChatKitToolChoice(_Wire):
    id: str


class ChatKitInferenceOptions(_Wire):
    model: str | None
    tool_choice: ChatKitToolChoice | None


class ChatKitThreadUserMessageItem(_Item):
    type: Literal["chatkit.user_message"]
    content: list[Annotated[ChatKitInputText | ChatKitQuotedText, Field(discriminator="type")]]
    attachments: list[ChatKitAttachment]
    inference_options: ChatKitInferenceOptions | None


class ChatKitFileSource(_Wire):
    type: Literal["file"]
    filename: str


class ChatKitUrlSource(_Wire):
    type: Literal["url"]
    url: str


class ChatKitFileAnnotation(_Wire):
    type: Literal["file"]
    source: ChatKitFileSource


class ChatKitUrlAnnotation(_Wire):
    type: Literal["url"]
    source: ChatKitUrlSource


class ChatKitResponseOutputText(_Wire):
    type: Literal["output_text"]
    text: str
    annotations: list[
        Annotated[ChatKitFileAnnotation | ChatKitUrlAnnotation, Field(discriminator="type")]
    ]


class ChatKitThreadAssistantMessageItem(_Item):
    type: Literal["chatkit.assistant_message"]
    content: list[ChatKitResponseOutputText]


class ChatKitWidgetItem(_Item):
    """``widget`` is the widget tree serialised as a JSON string."""

    type: Literal["chatkit.widget"]
    widget: str


class ChatKitClientToolCall(_Item):
    """``arguments`` and ``output`` are JSON strings; ``output`` is null while in progress."""

    type: Literal["chatkit.client_tool_call"]
    status: Literal["in_progress", "completed"]
    call_id: str
    name: str
    arguments: str
    output: str | None


class ChatKitTask(_Item):
    type: Literal["chatkit.task"]
    task_type: Literal["custom", "thought"]
    heading: str | None
    summary: str | None


class ChatKitTaskGroupTask(_Wire):
    type: Literal["custom", "thought"]
    heading: str | None
    summary: str | None


class ChatKitTaskGroup(_Item):
    type: Literal["chatkit.task_group"]
    tasks: list[ChatKitTaskGroupTask]


ChatKitThreadItem = Annotated[
    ChatKitThreadUserMessageItem
    | ChatKitThreadAssistantMessageItem
    | ChatKitWidgetItem
    | ChatKitClientToolCall
    | ChatKitTask
    | ChatKitTaskGroup,
    Field(discriminator="type"),
]


class ChatKitThreadItemList(_List):
    data: list[ChatKitThreadItem]


# -- traces, workflows, runs (extensions) -----------------------------------------------------
class ChatKitTraceSpan(_Wire):
    id: str
    object: Literal["chatkit.trace.span"]
    parent_id: str | None
    type: str
    name: str | None
    started_at: float | None
    ended_at: float | None
    duration_ms: float | None
    data: dict[str, Any]
    error: dict[str, Any] | None


class ChatKitTrace(_Wire):
    id: str
    object: Literal["chatkit.trace"]
    thread_id: str
    session_id: str
    workflow_id: str
    spans: list[ChatKitTraceSpan]


class ChatKitTraceList(_Wire):
    object: Literal["list"]
    data: list[ChatKitTrace]
    has_more: bool


class ChatKitStarterPrompt(_Wire):
    label: str
    prompt: str


class ChatKitWorkflowRequirement(_Wire):
    subject: str
    status: FindingStatus
    detail: str


class ChatKitWorkflowVersion(_Wire):
    id: str
    object: Literal["chatkit.workflow_version"]
    version: str
    name: str
    source: Literal["builtin", "agent_builder", "declarative"]
    description: str
    default: bool
    starter_prompts: list[ChatKitStarterPrompt]
    status: Literal["available", "unavailable"]
    unavailable_reason: str | None
    requirements: list[ChatKitWorkflowRequirement]


class ChatKitWorkflowVersionList(_List):
    data: list[ChatKitWorkflowVersion]


class ChatKitRunWorkflow(_Wire):
    id: str
    version: str | None


class ChatKitRun(_Wire):
    id: str
    object: Literal["chatkit.run"]
    thread_id: str | None
    session_id: str
    user: str
    workflow: ChatKitRunWorkflow
    request_type: str
    status: RunStatus
    created_at: int
    ended_at: int | None
    last_event_id: int


class ChatKitRunList(_List):
    data: list[ChatKitRun]


# -- server-side turns (extensions) -------------------------------------------------------------
class ChatKitThreadWithMetadata(ChatKitThread):
    """A thread as the server-side turn endpoints show it: with its metadata and workflow."""

    metadata: dict[str, Any]
    workflow_id: str | None


class ChatKitTurn(_Wire):
    """What a server-side turn answers (without ``stream``): the thread, its run, and the
    items the turn added so far (the user's message; with ``wait``, the answer too)."""

    object: Literal["chatkit.turn"]
    thread: ChatKitThreadWithMetadata
    run: ChatKitRun
    items: list[ChatKitThreadItem]


# -- webhooks (extensions) ------------------------------------------------------------------
class ChatKitWebhookEndpoint(_Wire):
    id: str
    object: Literal["chatkit.webhook_endpoint"]
    url: str
    description: str | None
    events: list[WebhookEventType]
    enabled: bool
    created_at: int


class ChatKitWebhookEndpointWithSecret(ChatKitWebhookEndpoint):
    """What ``POST /v1/chatkit/webhooks`` answers: the endpoint and its signing secret."""

    secret: str


class ChatKitWebhookEndpointList(_List):
    data: list[ChatKitWebhookEndpoint]


class ChatKitWebhookEndpointDeleted(_Wire):
    id: str
    object: Literal["chatkit.webhook_endpoint.deleted"]
    deleted: bool


# -- a user's data (extensions) ----------------------------------------------------------------
class ChatKitUserDataExport(_Wire):
    """Every row kithost holds about one user; attachments carry ``content_base64``."""

    object: Literal["chatkit.user_data_export"]
    user: str
    exported_at: int
    sessions: list[dict[str, Any]]
    threads: list[dict[str, Any]]
    items: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    runs: list[dict[str, Any]]


class ChatKitUserDataCounts(_Wire):
    sessions: int
    threads: int
    items: int
    feedback: int
    trace_spans: int
    attachments: int
    attachment_files: int
    runs: int


class ChatKitUserDataErasure(_Wire):
    """The receipt of an erasure: what was deleted, and when."""

    object: Literal["chatkit.user_data_erasure"]
    user: str
    erased_at: int
    deleted: ChatKitUserDataCounts


class ChatKitUsageLatency(_Wire):
    """Seconds from a run's start to its first assistant text; null where no run wrote text."""

    p50: list[float | None]
    p95: list[float | None]


class ChatKitUsageTokens(_Wire):
    """One workflow's tokens on one model (the name the workflow asked for, or ``default``)."""

    workflow_id: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    input_tokens_series: list[int]
    output_tokens_series: list[int]


class ChatKitUsageTotals(_Wire):
    conversations: int
    messages: int
    active_users: int
    """Distinct users over the whole range (not the sum of the buckets)."""
    runs: int
    failed_runs: int
    error_rate: float | None
    input_tokens: int
    output_tokens: int
    time_to_first_token_p50: float | None
    time_to_first_token_p95: float | None
    refusals: int | None


class ChatKitUsageWorkflowRank(_Wire):
    workflow_id: str
    runs: int


class ChatKitUsageUserRank(_Wire):
    user: str
    runs: int


class ChatKitUsage(_Wire):
    """The Overview: series aligned with ``buckets`` (each bucket's start, Unix seconds)."""

    object: Literal["chatkit.usage"]
    range: Literal["24h", "7d", "30d"]
    bucket_seconds: int
    start: int
    end: int
    workflow_id: str | None
    user: str | None
    buckets: list[int]
    conversations: list[int]
    messages: list[int]
    active_users: list[int]
    runs: list[int]
    failed_runs: list[int]
    error_rate: list[float | None]
    time_to_first_token: ChatKitUsageLatency
    tokens: list[ChatKitUsageTokens]
    refusals: list[int] | None
    """Null with a ``user`` filter: refusals are counted per workflow, never per user."""
    totals: ChatKitUsageTotals
    workflows: list[ChatKitUsageWorkflowRank]
    """Workflows with the most runs in the range (ignoring the ``workflow_id`` filter)."""
    users: list[ChatKitUsageUserRank]
    """Users with the most runs in the range (ignoring the ``user`` filter), at most 50."""


class ChatKitWebhookSecret(_Wire):
    """``whsec_`` and base64: the Standard Webhooks form the verifying libraries take."""

    secret: str


class ChatKitWebhookDelivery(_Wire):
    id: str
    object: Literal["chatkit.webhook_delivery"]
    endpoint_id: str
    event_type: WebhookEventType
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: int | None
    last_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    created_at: int
    delivered_at: int | None


class ChatKitWebhookDeliveryList(_List):
    data: list[ChatKitWebhookDelivery]


# -- ChatKit uploads --------------------------------------------------------------------------
class _Part(_Wire):
    """An attachment as chatkit-js reads it, plus the hosted ``upload_url`` (always null)."""

    id: str
    name: str
    mime_type: str
    upload_url: None
    thread_id: str | None = None  # only once a message uses it


class ChatKitFilePart(_Part):
    type: Literal["file"]


class ChatKitImagePart(_Part):
    type: Literal["image"]
    preview_url: str


ChatKitUploadedFile = Annotated[ChatKitFilePart | ChatKitImagePart, Field(discriminator="type")]


# -- files (OpenAI's Files API) ---------------------------------------------------------------
class FileObject(_Wire):
    id: str
    object: Literal["file"]
    bytes: int
    created_at: int
    expires_at: int | None
    filename: str
    purpose: Literal["assistants", "user_data"]
    status: Literal["processed"]
    status_details: str | None


class FileList(_List):
    data: list[FileObject]


class FileDeleted(_Wire):
    id: str
    object: Literal["file"]
    deleted: bool


# -- vector stores ----------------------------------------------------------------------------
class FileCounts(_Wire):
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int


class VectorStoreExpirationAfter(_Wire):
    anchor: Literal["last_active_at"]
    days: int


class VectorStore(_Wire):
    id: str
    object: Literal["vector_store"]
    created_at: int
    name: str | None
    usage_bytes: int
    file_counts: FileCounts
    status: StoreStatus
    expires_after: VectorStoreExpirationAfter | None
    expires_at: int | None
    last_active_at: int
    metadata: dict[str, str] | None


class VectorStoreList(_List):
    data: list[VectorStore]


class VectorStoreDeleted(_Wire):
    id: str
    object: Literal["vector_store.deleted"]
    deleted: bool


class VectorStoreFileLastError(_Wire):
    code: ErrorCode
    message: str


class VectorStoreFile(_Wire):
    id: str
    object: Literal["vector_store.file"]
    usage_bytes: int
    created_at: int
    vector_store_id: str
    status: FileStatus
    last_error: VectorStoreFileLastError | None
    chunking_strategy: dict[str, Any]
    attributes: dict[str, Scalar] | None


class VectorStoreFileList(_List):
    data: list[VectorStoreFile]


class VectorStoreFileDeleted(_Wire):
    id: str
    object: Literal["vector_store.file.deleted"]
    deleted: bool


class VectorStoreText(_Wire):
    type: Literal["text"]
    text: str


class VectorStoreFileContent(_Wire):
    object: Literal["vector_store.file_content.page"]
    data: list[VectorStoreText]
    has_more: bool
    next_page: str | None


class VectorStoreFileBatch(_Wire):
    id: str
    object: Literal["vector_store.files_batch"]
    created_at: int
    vector_store_id: str
    status: FileStatus
    file_counts: FileCounts


class VectorStoreSearchResult(_Wire):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, Scalar] | None
    content: list[VectorStoreText]


class VectorStoreSearchResultsPage(_Wire):
    """OpenAI's page, plus ``search_mode`` (kithost's: ``keyword`` or ``hybrid``)."""

    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[VectorStoreSearchResult]
    has_more: bool
    next_page: str | None
    search_mode: SearchMode


# -- health -----------------------------------------------------------------------------------
class Health(_Wire):
    status: Literal["ok"]


class Draining(_Wire):
    """After ``SIGTERM``, while running answers finish."""

    status: Literal["draining"]
    runs: int


# -- the ChatKit protocol (POST /v1/chatkit/conversation) -------------------------------------
class EmptyObject(_Wire):
    """``{}``: what ``items.feedback``, ``attachments.delete`` and ``threads.delete`` answer."""


ConversationRequest = ChatKitReq
ConversationResult = (
    Thread
    | Page[Thread]
    | Page[ThreadItem]
    | Attachment
    | SyncCustomActionResponse
    | TranscriptionResult
    | EmptyObject
)
"""What a non-streaming request answers (``threads.get_by_id``, ``threads.list``, …)."""
ConversationEvent = ThreadStreamEvent
"""The JSON of each ``data:`` line of a streaming request's ``text/event-stream``."""


# -- request bodies the routes parse themselves -----------------------------------------------
class ChatSessionWorkflowParam(WorkflowParam):
    state_variables: (
        Annotated[
            dict[Annotated[str, Field(max_length=MAX_STATE_KEY_LENGTH)], Scalar],
            Field(max_length=MAX_STATE_VARIABLES),
        ]
        | None
    ) = None


class SessionCreateParams(SessionCreate):
    """The body of ``POST /v1/chatkit/sessions`` (what the session service validates)."""

    workflow: ChatSessionWorkflowParam


# -- what the retrieval service checks in vector store requests (the models say dict) ---------
_KEY = {"type": "string", "maxLength": MAX_KEY_LENGTH, "pattern": NO_NUL}
_TEXT = {"type": "string", "maxLength": MAX_VALUE_LENGTH, "pattern": NO_NUL}
_ID = {"type": "string", "minLength": 1, "pattern": NO_NUL}
_IDS = {"type": "array", "items": _ID, "maxItems": MAX_VECTOR_STORE_FILES}
_SCALAR = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
METADATA = {
    "type": "object",
    "maxProperties": MAX_KEYS,
    "propertyNames": _KEY,
    "additionalProperties": _TEXT,
}
ATTRIBUTES = {
    "type": "object",
    "maxProperties": MAX_KEYS,
    "propertyNames": _KEY,
    "additionalProperties": {"anyOf": [_TEXT, {"type": "number"}, {"type": "boolean"}]},
}
CHUNKING_STRATEGY = {
    "description": "`chunk_overlap_tokens` is at most half of `max_chunk_size_tokens`.",
    "oneOf": [
        {"type": "object", "properties": {"type": {"const": "auto"}}, "required": ["type"]},
        {
            "type": "object",
            "properties": {
                "type": {"const": "static"},
                "static": {
                    "type": "object",
                    "properties": {
                        "max_chunk_size_tokens": {
                            "type": "integer",
                            "minimum": MIN_MAX_TOKENS,
                            "maximum": MAX_MAX_TOKENS,
                        },
                        "chunk_overlap_tokens": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_MAX_TOKENS // 2,
                        },
                    },
                },
            },
            "required": ["type", "static"],
        },
    ],
}
VECTOR_STORE_FILTER = {
    "description": "A comparison of one attribute, or filters combined (at most 8 levels).",
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "type": {"enum": [c for c in COMPARISONS if c not in ("in", "nin")]},
                "key": {"type": "string", "minLength": 1},
                "value": _SCALAR,
            },
            "required": ["type", "key", "value"],
        },
        {
            "type": "object",
            "properties": {
                "type": {"enum": ["in", "nin"]},
                "key": {"type": "string", "minLength": 1},
                "value": {"type": "array", "items": _SCALAR},
            },
            "required": ["type", "key", "value"],
        },
        {
            "type": "object",
            "properties": {
                "type": {"enum": list(COMPOUNDS)},
                "filters": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/components/schemas/VectorStoreFilter"},
                },
            },
            "required": ["type", "filters"],
        },
    ],
}
_WEIGHT = {"type": "number", "minimum": 0}
RANKING_OPTIONS = {
    "type": "object",
    "properties": {
        "ranker": {"enum": ["none", "auto", "default-2024-11-15"]},
        "score_threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "hybrid_search": {
            "type": "object",
            "properties": {"embedding_weight": _WEIGHT, "text_weight": _WEIGHT},
            "not": {
                "properties": {"embedding_weight": {"const": 0}, "text_weight": {"const": 0}},
                "required": ["embedding_weight", "text_weight"],
            },
        },
    },
}
_QUERY_TEXT = {"type": "string", "pattern": "\\S"}
SEARCH_QUERY = {"anyOf": [_QUERY_TEXT, {"type": "array", "minItems": 1, "items": _QUERY_TEXT}]}
_FILTER_REF = {"$ref": "#/components/schemas/VectorStoreFilter"}
_FILE_SETTINGS = {"attributes": ATTRIBUTES, "chunking_strategy": CHUNKING_STRATEGY}
EXTRA_COMPONENTS = {"VectorStoreFilter": VECTOR_STORE_FILTER}
_ONE_MODE = {
    "description": "`stream` or `wait`, not both.",
    "not": {
        "required": ["stream", "wait"],
        "properties": {"stream": {"const": True}, "wait": {"const": True}},
    },
}
CONSTRAINTS: dict[str, dict[str, Any]] = {
    "VectorStoreFileBatchCreateParams": {
        "description": "`file_ids` or `files`, not both.",
        "not": {
            "required": ["file_ids", "files"],
            "properties": {"file_ids": {"type": "array"}, "files": {"type": "array"}},
        },
    },
    "ChatKitThreadCreateParams": _ONE_MODE,
    "ChatKitMessageCreateParams": _ONE_MODE,
}
"""Component → what its whole object must also satisfy (rules across properties)."""
_NAME = {"type": "string", "pattern": NO_NUL}
REFINEMENTS: dict[str, dict[str, Any]] = {
    "ChatKitThreadCreateParams": {"metadata": METADATA},
    "ChatKitThreadUpdateParams": {"metadata": METADATA},
    "VectorStoreCreateParams": {
        "name": _NAME,
        "metadata": METADATA,
        "chunking_strategy": CHUNKING_STRATEGY,
        "file_ids": _IDS,
    },
    "VectorStoreUpdateParams": {"name": _NAME, "metadata": METADATA},
    "VectorStoreFileCreateParams": {"file_id": _ID, **_FILE_SETTINGS},
    "VectorStoreFileUpdateParams": {"attributes": ATTRIBUTES},
    "VectorStoreFileBatchCreateParams": {"file_ids": _IDS, **_FILE_SETTINGS},
    "BatchFile": {"file_id": _ID, **_FILE_SETTINGS},
    "VectorStoreSearchParams": {
        "query": SEARCH_QUERY,
        "filters": _FILTER_REF,
        "ranking_options": RANKING_OPTIONS,
    },
}
"""Component → property → its real schema, applied to the generated request components."""
