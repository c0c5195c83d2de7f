"""Recorded model requests, with API-neutral views so assertions read the same for both APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tests.support.fake_model.replies import Reply, text
from tests.support.fake_model.waiting import Signal

Api = Literal["chat", "responses", "moderations", "embeddings"]
Outcome = Literal["pending", "completed", "disconnected", "error", "rejected", "broken", "stopped"]
"""``pending`` until answered; ``completed``; ``disconnected`` (the client left first, e.g. a
Stop or a timeout); ``error`` (a scripted HTTP error was sent); ``rejected`` (failed the fake's
request validation, 400); ``broken`` (a malformed/aborted/errored stream was sent); ``stopped``
(the fake shut down while the reply hung)."""


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the ``text`` of its parts (any API)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass
class ModelRequest:
    """One request the fake received: the parsed JSON ``body`` plus what the fake did with it."""

    api: Api
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    reply: Reply | None = None
    """The scripted reply chosen for it (None if rejected)."""
    response_id: str | None = None
    item_ids: list[str] = field(default_factory=list)
    """IDs of the output items sent (message ``msg_…``, function call ``fc_…``)."""
    outcome: Outcome = "pending"
    problem: str | None = None
    """Why the fake rejected the request (``rejected`` only)."""
    _changed: Signal = field(default_factory=Signal, repr=False, compare=False)

    def finish(self, outcome: Outcome) -> Outcome:
        """Record the final outcome once and return it; later calls (e.g. a disconnect racing
        the end) keep the first. The fake calls this before sending the last bytes, so a client
        holding the whole answer already sees the outcome."""
        with self._changed.lock:
            if self.outcome == "pending":
                self.outcome = outcome
        self._changed.notify()
        return self.outcome

    def _done(self) -> bool:
        return self.outcome != "pending"

    def wait_done(self, timeout: float = 5.0) -> Outcome:
        """Block until the fake finished answering (or the client left); return the outcome."""
        self._changed.wait_for(self._done, timeout, f"{self.api} request still pending")
        return self.outcome

    async def wait_done_async(self, timeout: float = 5.0) -> Outcome:  # noqa: ASYNC109
        """Like :meth:`wait_done`; the default bound keeps a lost wait from eating the
        whole test timeout."""
        await self._changed.wait_for_async(self._done, timeout, f"{self.api} request still pending")
        return self.outcome

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def instructions(self) -> str:
        """System prompt: Responses ``instructions`` plus any system/developer messages."""
        parts = [self.body["instructions"]] if self.body.get("instructions") else []
        parts += [content for role, content in self.transcript if role in ("system", "developer")]
        return "\n".join(parts)

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """The conversation sent, as ``(role, text)`` pairs. Tool calls appear as
        ``("tool_call", "name(arguments)")`` and their results as ``("tool", output)``."""
        items = self.body.get("messages") if self.api == "chat" else self.body.get("input")
        if isinstance(items, str):
            return [("user", items)]
        turns: list[tuple[str, str]] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            kind = item.get("type", "message")
            if kind == "function_call":
                turns.append(("tool_call", f"{item.get('name')}({item.get('arguments')})"))
            elif kind == "function_call_output":
                turns.append(("tool", content_text(item.get("output"))))
            elif kind == "message" and "role" in item:
                role = str(item["role"])
                if item.get("content") or not item.get("tool_calls"):
                    turns.append(
                        ("tool" if role == "tool" else role, content_text(item.get("content")))
                    )
                for call in item.get("tool_calls") or []:
                    function = call.get("function", {})
                    turns.append(
                        ("tool_call", f"{function.get('name')}({function.get('arguments')})")
                    )
        return turns

    @property
    def last_user_text(self) -> str:
        users = [content for role, content in self.transcript if role == "user"]
        return users[-1] if users else ""

    @property
    def tool_names(self) -> list[str]:
        """Names of the function tools offered to the model."""
        names = []
        for tool in self.body.get("tools") or []:
            function = tool.get("function", tool) if self.api == "chat" else tool
            if "name" in function:
                names.append(str(function["name"]))
        return names

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema requested for structured output, if any."""
        if self.api == "chat":
            fmt = self.body.get("response_format") or {}
            schema = (fmt.get("json_schema") or {}).get("schema")
        else:
            fmt = (self.body.get("text") or {}).get("format") or {}
            schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else None


def echo(request: ModelRequest) -> Reply:
    """Default reply: the last user message, verbatim, so an unscripted fake still answers."""
    return text(request.last_user_text or "(no user message)")
