"""Server-side turns (an extension): the bodies an app's backend sends, and their rules.

A backend starts a conversation (``POST /v1/chatkit/threads``), continues one
(``…/{thread_id}/messages``), leaves a notice in it (``…/items``) or updates it
(``POST``/``PATCH …/{thread_id}``). These models validate those bodies; the work is done by
``runs/server_turns.py`` and ``core/thread_service.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from chatkit.types import Annotation
from chatkit.widgets import WidgetRoot
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from kithost.core.errors import InvalidRequest
from kithost.core.limits import MAX_ID_LENGTH, MAX_USER_LENGTH
from kithost.core.metadata import check_metadata
from kithost.core.sessions import ChatKitConfigurationParam, TracingParam, WorkflowParam
from kithost.core.threads import ThreadStatus
from kithost.core.validation import NonEmptyText, parse_model

MAX_TITLE_LENGTH = 512
MAX_TEXT_PARTS = 64
MAX_STATUS_REASON = 2_000

Text = Annotated[StrictStr, Field(max_length=1_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputText(_Strict):
    type: Literal["input_text"]
    text: Text


class InputTag(_Strict):
    """A tag the user picked in the composer (the protocol's ``input_tag``)."""

    type: Literal["input_tag"]
    id: NonEmptyText
    text: Text
    data: dict[str, Any] = Field(default_factory=dict)
    interactive: StrictBool = False


class TurnInferenceOptions(_Strict):
    tool_choice: dict[str, Any] | None = None
    model: NonEmptyText | None = None


class MessageInput(_Strict):
    """The user's message, in the shape of the ChatKit protocol's ``input``."""

    content: Annotated[
        list[Annotated[InputText | InputTag, Field(discriminator="type")]],
        Field(min_length=1, max_length=MAX_TEXT_PARTS),
    ]
    attachments: Annotated[list[NonEmptyText], Field(max_length=1_000)] = Field(
        default_factory=list
    )
    quoted_text: Text | None = None
    inference_options: TurnInferenceOptions = Field(default_factory=TurnInferenceOptions)

    def to_protocol(self) -> dict[str, Any]:
        return {
            "content": [part.model_dump() for part in self.content],
            # Repeats dropped, order kept: the protocol's requests do the same.
            "attachments": list(dict.fromkeys(self.attachments)),
            "quoted_text": self.quoted_text,
            "inference_options": self.inference_options.model_dump(exclude_none=True),
        }


Metadata = dict[StrictStr, StrictStr]


class _Delivery(_Strict):
    """How the answer comes back: a stream, the run once it ended, or at once."""

    stream: StrictBool = False
    wait: StrictBool = False

    def check_modes(self) -> None:
        if self.stream and self.wait:
            raise InvalidRequest(
                "'stream' and 'wait' cannot both be true: a stream already ends with the run.",
                param="wait",
                code="invalid_value",
            )


class ThreadCreate(_Delivery):
    """``POST /v1/chatkit/threads``: a new thread for ``user``, its first message, a run."""

    user: Annotated[NonEmptyText, Field(max_length=MAX_USER_LENGTH)]
    workflow: WorkflowParam
    input: MessageInput
    title: Annotated[NonEmptyText, Field(max_length=MAX_TITLE_LENGTH)] | None = None
    metadata: Metadata | None = None
    chatkit_configuration: ChatKitConfigurationParam | None = None

    def check(self) -> None:
        """What pydantic cannot say with a parameter's name."""
        self.check_modes()
        check_metadata(self.metadata)


class WorkflowChoice(_Strict):
    """``workflow`` of a follow-up message: the thread's own when ``id`` is left out."""

    id: Annotated[NonEmptyText, Field(max_length=MAX_ID_LENGTH)] | None = None
    version: Annotated[NonEmptyText, Field(max_length=MAX_ID_LENGTH)] | None = None
    state_variables: dict[StrictStr, Any] | None = None
    tracing: TracingParam | None = None


class MessageCreate(_Delivery):
    """``POST /v1/chatkit/threads/{thread_id}/messages``: the user's next message, a run."""

    user: Annotated[NonEmptyText, Field(max_length=MAX_USER_LENGTH)]
    input: MessageInput
    workflow: WorkflowChoice | None = None
    chatkit_configuration: ChatKitConfigurationParam | None = None

    def check(self) -> None:
        self.check_modes()


class StatusParam(_Strict):
    type: ThreadStatus
    reason: Annotated[StrictStr, Field(max_length=MAX_STATUS_REASON)] | None = None


STATUS_NAMES = list(get_args(ThreadStatus))
# ``status`` is ``"locked"`` or ``{"type": "locked", "reason": …}``; the string is read as the
# object (so that errors name ``status.type``, not a union member), and documented as both.
STATUS_SCHEMA = {
    "anyOf": [
        {"type": "string", "enum": STATUS_NAMES},
        {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": STATUS_NAMES},
                "reason": {
                    "anyOf": [{"type": "string", "maxLength": MAX_STATUS_REASON}, {"type": "null"}]
                },
            },
            "required": ["type"],
            "additionalProperties": False,
        },
        {"type": "null"},
    ]
}


class ThreadUpdate(_Strict):
    """``POST``/``PATCH /v1/chatkit/threads/{thread_id}``: fields left out stay as they are;
    ``title: null`` clears the title."""

    title: Annotated[NonEmptyText, Field(max_length=MAX_TITLE_LENGTH)] | None = None
    status: Annotated[StatusParam | None, WithJsonSchema(STATUS_SCHEMA)] = None
    metadata: Metadata | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_by_name(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    def status_and_reason(self) -> tuple[ThreadStatus, str | None] | None:
        if self.status is None:
            return None
        status = self.status.type
        return status, (None if status == "active" else self.status.reason)


class OutputText(_Strict):
    type: Literal["output_text"]
    text: Text
    annotations: list[Annotation] = Field(default_factory=list)


class AssistantNotice(_Strict):
    """An assistant message added without a run (a notice the user sees next time)."""

    type: Literal["assistant_message", "chatkit.assistant_message"]
    content: Annotated[list[OutputText], Field(min_length=1, max_length=MAX_TEXT_PARTS)]


class WidgetNotice(_Strict):
    """A widget added without a run; ``widget`` is a ChatKit widget tree (``Card``, …)."""

    type: Literal["widget", "chatkit.widget"]
    widget: WidgetRoot
    copy_text: Text | None = None


Notice = AssistantNotice | WidgetNotice
NOTICE_TYPES: dict[str, type[AssistantNotice] | type[WidgetNotice]] = {
    "assistant_message": AssistantNotice,
    "chatkit.assistant_message": AssistantNotice,
    "widget": WidgetNotice,
    "chatkit.widget": WidgetNotice,
}


def parse_notice(data: Any) -> Notice:
    """The body of ``…/items``: its ``type`` picks the shape, named in errors as sent."""
    kind = data.get("type") if isinstance(data, dict) else None
    model = NOTICE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidRequest(
            "Invalid 'type': expected one of "
            + ", ".join(f"'{name}'" for name in NOTICE_TYPES)
            + (f", but got {kind!r} instead." if kind is not None else "."),
            param="type",
            code="invalid_value",
        )
    return parse_model(model, data)
