"""ChatKit sessions: the create request, its defaults and bounds, and a session's lifecycle.

Defaults and bounds are the hosted contract's (hosted-api.md §3.1): 600 s expiry (also the
maximum), 10 requests a minute, uploads off with 512 MB / 10 files, history on, titling on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from kithost.core.limits import MAX_ID_LENGTH, MAX_USER_LENGTH
from kithost.core.validation import NonEmptyText, contains_nul

DEFAULT_EXPIRES_SECONDS = 600
MAX_EXPIRES_SECONDS = 600
DEFAULT_REQUESTS_PER_MINUTE = 10
DEFAULT_MAX_FILE_SIZE_MB = 512
DEFAULT_MAX_FILES = 10
MAX_STATE_VARIABLES = 64
MAX_STATE_KEY_LENGTH = 64
MAX_STATE_STRING_LENGTH = 10_485_760
# The contract sets no maximum for these counts; a 32-bit ceiling keeps every backend's integer
# columns (and every client's int) safe, and is far beyond any real use.
MAX_COUNT = 2_147_483_647

SessionStatus = Literal["active", "expired", "cancelled"]
# Any here: ``state_variable_problem`` checks values, for a message that names the key.
StateValue = Any


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TracingParam(_Strict):
    enabled: StrictBool = True


class WorkflowParam(_Strict):
    id: Annotated[NonEmptyText, Field(max_length=MAX_ID_LENGTH)]
    version: Annotated[NonEmptyText, Field(max_length=MAX_ID_LENGTH)] | None = None
    state_variables: dict[StrictStr, StateValue] | None = None
    tracing: TracingParam | None = None


class ExpiresAfterParam(_Strict):
    anchor: Literal["created_at"]
    seconds: Annotated[StrictInt, Field(ge=1, le=MAX_EXPIRES_SECONDS)]


class RateLimitsParam(_Strict):
    max_requests_per_1_minute: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] = (
        DEFAULT_REQUESTS_PER_MINUTE
    )


class TitlingParam(_Strict):
    enabled: StrictBool = True


class FileUploadParam(_Strict):
    enabled: StrictBool = False
    max_file_size: Annotated[StrictInt, Field(ge=1, le=DEFAULT_MAX_FILE_SIZE_MB)] = (
        DEFAULT_MAX_FILE_SIZE_MB
    )
    max_files: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] = DEFAULT_MAX_FILES


class HistoryParam(_Strict):
    enabled: StrictBool = True
    recent_threads: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] | None = None


class ChatKitConfigurationParam(_Strict):
    automatic_thread_titling: TitlingParam = Field(default_factory=TitlingParam)
    file_upload: FileUploadParam = Field(default_factory=FileUploadParam)
    history: HistoryParam = Field(default_factory=HistoryParam)


class SessionCreate(_Strict):
    """The body of ``POST /v1/chatkit/sessions``."""

    user: Annotated[NonEmptyText, Field(max_length=MAX_USER_LENGTH)]
    workflow: WorkflowParam
    expires_after: ExpiresAfterParam | None = None
    rate_limits: RateLimitsParam | None = None
    chatkit_configuration: ChatKitConfigurationParam | None = None


def state_variable_problem(variables: dict[str, Any] | None) -> tuple[str, str] | None:
    """Return ``(message, code)`` for limits pydantic cannot express, or None."""
    if not variables:
        return None
    if len(variables) > MAX_STATE_VARIABLES:
        return (
            f"Invalid 'workflow.state_variables': too many properties. Expected at most "
            f"{MAX_STATE_VARIABLES}, but got {len(variables)} instead.",
            "object_above_max_properties",
        )
    for key, value in variables.items():
        if contains_nul(key):
            return (
                "Invalid 'workflow.state_variables': a key contains a NUL character (\\u0000).",
                "invalid_value",
            )
        if len(key) > MAX_STATE_KEY_LENGTH:
            return (
                f"Invalid 'workflow.state_variables': key '{key[:80]}' is longer than "
                f"{MAX_STATE_KEY_LENGTH} characters.",
                "invalid_value",
            )
        if value is None or not isinstance(value, str | int | float | bool):
            return (
                f"Invalid type for 'workflow.state_variables.{key}': expected a string, "
                "number or boolean.",
                "invalid_type",
            )
        if isinstance(value, float) and not math.isfinite(value):
            return (
                f"Invalid 'workflow.state_variables.{key}': expected a finite number, but got "
                f"{value} instead.",
                "invalid_value",
            )
        if isinstance(value, str) and contains_nul(value):
            return (
                f"Invalid 'workflow.state_variables.{key}': the string contains a NUL character "
                "(\\u0000), which is not allowed.",
                "invalid_value",
            )
        if isinstance(value, str) and len(value) > MAX_STATE_STRING_LENGTH:
            return (
                f"Invalid 'workflow.state_variables.{key}': string too long. Expected at most "
                f"{MAX_STATE_STRING_LENGTH} characters.",
                "string_above_max_length",
            )
    return None


@dataclass(frozen=True)
class ChatKitConfiguration:
    """The resolved ``chatkit_configuration`` of a session, every default filled in."""

    titling_enabled: bool = True
    uploads_enabled: bool = False
    max_file_size_mb: int = DEFAULT_MAX_FILE_SIZE_MB
    max_files: int = DEFAULT_MAX_FILES
    history_enabled: bool = True
    recent_threads: int | None = None

    @classmethod
    def from_param(cls, param: ChatKitConfigurationParam | None) -> ChatKitConfiguration:
        p = param or ChatKitConfigurationParam()
        return cls(
            titling_enabled=p.automatic_thread_titling.enabled,
            uploads_enabled=p.file_upload.enabled,
            max_file_size_mb=p.file_upload.max_file_size,
            max_files=p.file_upload.max_files,
            history_enabled=p.history.enabled,
            recent_threads=p.history.recent_threads,
        )

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ChatKitConfiguration:
        return cls.from_param(ChatKitConfigurationParam.model_validate(data))

    def to_wire(self) -> dict[str, Any]:
        return {
            "automatic_thread_titling": {"enabled": self.titling_enabled},
            "file_upload": {
                "enabled": self.uploads_enabled,
                "max_file_size": self.max_file_size_mb,
                "max_files": self.max_files,
            },
            "history": {"enabled": self.history_enabled, "recent_threads": self.recent_threads},
        }


@dataclass(frozen=True)
class SessionWorkflow:
    id: str
    version: str | None = None
    state_variables: dict[str, Any] | None = None
    tracing_enabled: bool = True

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "state_variables": self.state_variables,
            "tracing": {"enabled": self.tracing_enabled},
        }


@dataclass(frozen=True)
class ChatSession:
    """A session as stored: its secret only as a digest."""

    id: str
    user: str
    workflow: SessionWorkflow
    created_at: int
    expires_at: int
    max_requests_per_1_minute: int
    configuration: ChatKitConfiguration = field(default_factory=ChatKitConfiguration)
    cancelled_at: int | None = None

    def status(self, now: float | None = None) -> SessionStatus:
        """Cancellation wins over expiry; expiry is lazy: ``now >= expires_at``."""
        if self.cancelled_at is not None:
            return "cancelled"
        if (time.time() if now is None else now) >= self.expires_at:
            return "expired"
        return "active"

    def to_wire(self, client_secret: str = "", now: float | None = None) -> dict[str, Any]:
        """Render the ``chatkit.session`` object; the secret is known only at creation."""
        return {
            "id": self.id,
            "object": "chatkit.session",
            "status": self.status(now),
            "chatkit_configuration": self.configuration.to_wire(),
            "client_secret": client_secret,
            "expires_at": self.expires_at,
            "max_requests_per_1_minute": self.max_requests_per_1_minute,
            "rate_limits": {"max_requests_per_1_minute": self.max_requests_per_1_minute},
            "user": self.user,
            "workflow": self.workflow.to_wire(),
        }
