"""A local fake OpenAI-compatible model provider on real sockets, for tests and benchmarks.

Tests never mock kithost's own parts; only the model provider is replaced, by this server.
It speaks both provider APIs the Agents SDK uses (Chat Completions and Responses, streaming
and not), answers from a per-test script, and records every request body::

    with FakeModelServer() as fake:
        fake.push(text("Hello there"), tool_call("lookup", {"id": 7}), structured({"a": 1}))
        fake.when(lambda r: "Classify" in r.instructions, structured({"category": "billing"}))
        ...  # run kithost / an agent against fake.base_url
        assert fake.requests[-1].transcript[-1] == ("user", "hi")

Unscripted requests get the default reply (an echo of the last user message). For benchmarks,
``python -m tests.support.fake_model --port N --token-interval-ms 20`` (or
:class:`FakeModelProcess`) runs it as a separate process.
"""

from tests.support.fake_model.recorded import ModelRequest, echo
from tests.support.fake_model.replies import (
    HttpError,
    Reply,
    ToolCall,
    delayed,
    endless,
    error,
    hang,
    malformed,
    stream_error,
    structured,
    text,
    tool_call,
    tool_calls,
)
from tests.support.fake_model.script import Responder, Rule, Script
from tests.support.fake_model.server import FakeModelProcess, FakeModelServer

__all__ = [
    "FakeModelProcess",
    "FakeModelServer",
    "HttpError",
    "ModelRequest",
    "Reply",
    "Responder",
    "Rule",
    "Script",
    "ToolCall",
    "delayed",
    "echo",
    "endless",
    "error",
    "hang",
    "malformed",
    "stream_error",
    "structured",
    "text",
    "tool_call",
    "tool_calls",
]
