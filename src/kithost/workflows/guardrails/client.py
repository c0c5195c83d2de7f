"""The OpenAI client an export's guardrails get: kithost's model provider behind OpenAI's API.

Agent Builder exports build ``client = AsyncOpenAI()`` at import time and hand it to their
guardrails (``ctx = SimpleNamespace(guardrail_llm=client)``). kithost gives them this client
instead, so that guardrail checks follow the server's configuration like agents do:

- every model name goes through ``KITHOST_MODEL_ALIASES`` (and ``KITHOST_DEFAULT_MODEL``);
- every call goes through ``KITHOST_MODEL_API``: the LLM checks call ``chat.completions``, which
  becomes a Responses call when the provider speaks Responses, and Prompt Injection Detection
  calls ``responses.parse``, which becomes a Chat Completions call when it speaks that;
- ``moderations.create`` reaches OpenAI's endpoint only where the provider is OpenAI, and is an
  LLM check through the provider elsewhere (``moderation.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Self

import openai
from openai import AsyncOpenAI
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.resources.moderations import AsyncModerations
from openai.resources.responses import AsyncResponses
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice

from kithost.workflows.guardrails.scope import note_provider_failure
from kithost.workflows.providers import NoProviderConfigured, ProviderConfig

log = logging.getLogger("kithost.workflows")

# What a Chat Completions request may carry and still be asked through the Responses API.
_CHAT_FIELDS = {
    "model",
    "messages",
    "response_format",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "safety_identifier",
}
# What a Responses request may carry and still be asked through Chat Completions.
_RESPONSES_FIELDS = {
    "model",
    "input",
    "instructions",
    "text",
    "text_format",
    "temperature",
    "top_p",
    "max_output_tokens",
    "safety_identifier",
}


def provider_is_openai(config: ProviderConfig) -> bool:
    """Whether ``/v1/moderations`` is there: OpenAI (or a gateway in front of it), unless
    ``KITHOST_HOSTED_TOOLS=local`` asks for kithost's own checks."""
    return config.hosted_tools != "local" and config.reaches_openai


class UnsupportedRequest(RuntimeError):
    """A request the configured model API cannot carry (said plainly, with the setting)."""


class ProviderClient(AsyncOpenAI):
    """``AsyncOpenAI`` with kithost's provider behind ``chat``, ``responses`` and
    ``moderations`` (see the module docstring). Other resources reach the provider as they are.
    """

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(
            # A compatible server often needs no key, but the client insists on one.
            api_key=config.api_key or "unused",
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )
        self.provider_config = config
        # The unrouted resources, built directly: the routed ones below take their names.
        self._raw_completions = AsyncCompletions(self)
        self._raw_responses = AsyncResponses(self)
        self._raw_moderations = AsyncModerations(self)

    def copy(self, *_args: Any, **_kwargs: Any) -> Self:
        """Options stay kithost's: a copy is another client on the same provider."""
        return type(self)(self.provider_config)

    with_options = copy

    @cached_property
    def chat(self) -> AsyncChat:
        return _Chat(self)

    @cached_property
    def responses(self) -> AsyncResponses:
        return _Responses(self)

    @cached_property
    def moderations(self) -> AsyncModerations:
        return _Moderations(self)

    def model_name(self, requested: Any) -> str:
        return self.provider_config.model_name(requested if isinstance(requested, str) else None)

    async def chat_completion(self, request: dict[str, Any]) -> Any:
        """``chat.completions.create``, through the configured API."""
        self._require_provider()
        request = {**request, "model": self.model_name(request.get("model"))}
        if self.provider_config.api == "responses" and _plain_chat(request):
            return await _noted(self._chat_through_responses(request))
        # Providers that speak Responses speak Chat Completions too (OpenAI, gateways).
        return await _noted(self._raw_completions.create(**request))

    async def response(self, request: dict[str, Any], *, parse: bool) -> Any:
        """``responses.create`` / ``responses.parse``, through the configured API."""
        self._require_provider()
        request = {**request, "model": self.model_name(request.get("model"))}
        if self.provider_config.api == "responses":
            call = self._raw_responses.parse if parse else self._raw_responses.create
            return await _noted(call(**request))
        if not _plain_responses(request):
            raise UnsupportedRequest(
                "This guardrail needs OpenAI's Responses API (tools or streaming), and this "
                "server's model provider speaks Chat Completions (KITHOST_MODEL_API)."
            )
        return await _noted(self._response_through_chat(request))

    async def moderation(self, request: dict[str, Any]) -> Any:
        """``moderations.create``: OpenAI's endpoint on OpenAI, an LLM check elsewhere."""
        from kithost.workflows.guardrails.moderation import (  # cycle
            llm_moderation,
            with_category_names,
        )

        self._require_provider()
        if provider_is_openai(self.provider_config):
            try:
                return with_category_names(await self._raw_moderations.create(**request))
            except openai.NotFoundError:
                # A gateway without the endpoint: the library would retry on OpenAI directly.
                log.info("the model provider has no /v1/moderations; asking its model instead")
            except Exception as error:
                note_provider_failure(error)
                raise
        return await llm_moderation(self, request.get("input"), request.get("model"))

    def _require_provider(self) -> None:
        if not self.provider_config.configured:
            error = NoProviderConfigured()
            note_provider_failure(error)
            raise error

    async def _chat_through_responses(self, request: dict[str, Any]) -> ChatCompletion:
        instructions, turns = [], []
        for message in request["messages"]:
            text = _text(message.get("content"))
            if message["role"] in ("system", "developer"):
                instructions.append(text)
            else:
                turns.append({"role": message["role"], "content": text})
        asked: dict[str, Any] = {"model": request["model"], "input": turns}
        if instructions:
            asked["instructions"] = "\n\n".join(instructions)
        text_format = _text_format(request.get("response_format"))
        if text_format is not None:
            asked["text"] = {"format": text_format}
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        if limit is not None:
            asked["max_output_tokens"] = limit
        for name in ("temperature", "top_p", "safety_identifier"):
            if name in request:
                asked[name] = request[name]
        response = await self._raw_responses.create(**asked)
        usage = response.usage
        return ChatCompletion(
            id=response.id,
            object="chat.completion",
            created=int(response.created_at),
            model=response.model,
            choices=[
                Choice(
                    index=0,
                    finish_reason="stop",
                    message=ChatCompletionMessage(role="assistant", content=response.output_text),
                )
            ],
            usage=CompletionUsage(
                prompt_tokens=usage.input_tokens,
                completion_tokens=usage.output_tokens,
                total_tokens=usage.total_tokens,
            )
            if usage
            else None,
        )

    async def _response_through_chat(self, request: dict[str, Any]) -> TranslatedResponse:
        messages: list[dict[str, Any]] = []
        if request.get("instructions"):
            messages.append({"role": "system", "content": str(request["instructions"])})
        given = request.get("input")
        if isinstance(given, str):
            messages.append({"role": "user", "content": given})
        else:
            for item in given or []:
                messages.append({"role": item["role"], "content": _text(item.get("content"))})
        asked: dict[str, Any] = {"model": request["model"], "messages": messages}
        schema_type = request.get("text_format")
        if schema_type is not None:
            asked["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_type.__name__,
                    "schema": schema_type.model_json_schema(),
                },
            }
        elif (request.get("text") or {}).get("format"):
            asked["response_format"] = _response_format(request["text"]["format"])
        if "max_output_tokens" in request:
            asked["max_tokens"] = request["max_output_tokens"]
        for name in ("temperature", "top_p", "safety_identifier"):
            if name in request:
                asked[name] = request[name]
        completion = await self._raw_completions.create(**asked)
        text = completion.choices[0].message.content or ""
        parsed = schema_type.model_validate_json(text) if schema_type is not None else None
        return TranslatedResponse(output_text=text, output_parsed=parsed, usage=completion.usage)


@dataclass
class TranslatedResponse:
    """A Responses answer obtained through Chat Completions: what guardrails read of one."""

    output_text: str
    output_parsed: Any
    usage: CompletionUsage | None


class _Completions(AsyncCompletions):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client)
        self._kithost = client

    async def create(self, *_args: Any, **kwargs: Any) -> Any:
        return await self._kithost.chat_completion(kwargs)


class _Chat(AsyncChat):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client)
        self._kithost = client

    @cached_property
    def completions(self) -> AsyncCompletions:
        return _Completions(self._kithost)


class _Responses(AsyncResponses):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client)
        self._kithost = client

    async def create(self, *_args: Any, **kwargs: Any) -> Any:
        return await self._kithost.response(kwargs, parse=False)

    async def parse(self, *_args: Any, **kwargs: Any) -> Any:
        return await self._kithost.response(kwargs, parse=True)


class _Moderations(AsyncModerations):
    def __init__(self, client: ProviderClient) -> None:
        super().__init__(client)
        self._kithost = client

    async def create(self, *_args: Any, **kwargs: Any) -> Any:
        return await self._kithost.moderation(kwargs)


async def _noted[T](call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as error:
        note_provider_failure(error)
        raise


def _text(content: Any) -> str:
    """A message's text: a string, or its text parts joined (what guardrail checks send)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else json.dumps(content)


def _only_text(content: Any) -> bool:
    return isinstance(content, str) or (
        isinstance(content, list)
        and all(isinstance(part, dict) and part.get("type") == "text" for part in content)
    )


def _plain_chat(request: dict[str, Any]) -> bool:
    """A request the Responses API can carry as well: messages of text, a JSON format."""
    messages = request.get("messages")
    if set(request) - _CHAT_FIELDS or not isinstance(messages, list):
        return False
    roles = {"system", "developer", "user", "assistant"}
    return all(
        isinstance(m, dict) and m.get("role") in roles and _only_text(m.get("content"))
        for m in messages
    ) and (
        request.get("response_format") is None
        or _text_format(request["response_format"]) is not None
    )


def _plain_responses(request: dict[str, Any]) -> bool:
    given = request.get("input")
    if set(request) - _RESPONSES_FIELDS:
        return False
    return isinstance(given, str) or (
        isinstance(given, list) and all(isinstance(item, dict) and "role" in item for item in given)
    )


def _text_format(response_format: Any) -> dict[str, Any] | None:
    """Chat Completions' ``response_format`` as the Responses API's ``text.format``."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    spec = response_format.get("json_schema")
    if kind != "json_schema" or not isinstance(spec, dict):
        return None
    found = {"type": "json_schema", "name": spec.get("name", "output"), "schema": spec["schema"]}
    if "strict" in spec:
        found["strict"] = spec["strict"]
    return found


def _response_format(text_format: dict[str, Any]) -> dict[str, Any]:
    """The Responses API's ``text.format`` as Chat Completions' ``response_format``."""
    if text_format.get("type") != "json_schema":
        return {"type": text_format.get("type", "text")}
    spec = {key: text_format[key] for key in ("name", "schema", "strict") if key in text_format}
    return {"type": "json_schema", "json_schema": spec}
