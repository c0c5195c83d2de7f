"""The source: a ChatKit threads API (OpenAI's, or anything that speaks it), read through the
official ``openai`` SDK and its auto-pagination.

Objects are handed on as the JSON the source sent (``to_dict()``): the SDK builds its unions
without validation, so an item of an unknown type would otherwise pass for a user message
(hosted-api.md §1.3). The SDK's retries do the waiting: 429 with ``Retry-After``, 5xx and
dropped connections are retried ``max_retries`` times.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

import httpx2
import openai

from kithost.importer.options import ImportOptions

Json = dict[str, Any]
PAGE_SIZE = 100  # the largest page the threads API serves
PROBE_RETRIES = 1  # fail fast on a wrong URL; the run itself retries generously


class SourceError(Exception):
    """The source cannot be used at all (bad key, not a ChatKit API, unreachable)."""


class Source:
    """Reads threads and items; every fatal error comes out as a ``SourceError``."""

    def __init__(self, options: ImportOptions):
        # Not OPENAI_API_KEY: that variable is the model provider's, and the same shell may
        # point OPENAI_BASE_URL at a local model server that should never see an OpenAI key.
        api_key = options.api_key
        if not api_key:
            raise SourceError(
                "No API key for the source: pass --api-key, or set KITHOST_IMPORT_API_KEY to "
                "the key of the OpenAI project whose ChatKit threads you are importing."
            )
        self.rate_limited = 0
        """429 answers seen so far (the SDK retries each after its Retry-After)."""
        self._http = openai.DefaultAsyncHttpxClient(event_hooks={"response": [self._saw]})
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=options.base_url,
            max_retries=options.max_retries,
            timeout=options.timeout,
            http_client=self._http,
        )
        self.base_url = str(self._client.base_url).rstrip("/")
        self.api_key = self._client.api_key

    async def __aenter__(self) -> Source:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.close()
        await self._http.aclose()

    async def _saw(self, response: httpx2.Response) -> None:
        if response.status_code == 429:
            self.rate_limited += 1

    async def check(self) -> None:
        """One small request that tells a ChatKit threads API from anything else."""
        quick = self._client.with_options(max_retries=PROBE_RETRIES)
        try:
            raw = await quick.beta.chatkit.threads.with_raw_response.list(limit=1)
        except openai.RateLimitError:
            return  # a ChatKit API that is busy: the run's retries will wait for it
        except openai.InternalServerError:
            return  # likewise; a source that stays down fails the run with a clear message
        except openai.APIError as error:
            raise self.explain(error) from None
        content_type = raw.headers.get("content-type", "")
        try:
            body = json.loads(raw.text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("object") != "list":
            shown = content_type.split(";")[0] or "no content type"
            raise SourceError(
                f"{self.base_url} is not a ChatKit API: GET {self.base_url}/chatkit/threads "
                f"answered {raw.status_code} with {shown}, not a list of threads. The base URL "
                "should end in /v1, like https://api.openai.com/v1."
            )

    def explain(self, error: BaseException) -> SourceError:
        """The message an operator needs for an error that stops the whole run."""
        where = self.base_url
        if isinstance(error, openai.AuthenticationError):
            return SourceError(
                f"{where} refused the API key (401: {_message(error)}). Pass the key of the "
                "OpenAI project that owns the ChatKit threads with --api-key or "
                "KITHOST_IMPORT_API_KEY."
            )
        if isinstance(error, openai.PermissionDeniedError):
            return SourceError(
                f"{where} does not let this API key read ChatKit threads (403: "
                f"{_message(error)}). Use a key with read access to the project's threads."
            )
        if isinstance(error, openai.NotFoundError):
            return SourceError(
                f"{where} is not a ChatKit API: GET {where}/chatkit/threads answered 404. "
                "The base URL should end in /v1, like https://api.openai.com/v1."
            )
        if isinstance(error, openai.APITimeoutError):
            return SourceError(f"{where} did not answer in time, even after retries.")
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return SourceError(f"Could not connect to {where}: {cause}.")
        if isinstance(error, openai.APIStatusError):
            return SourceError(
                f"{where} answered {error.status_code} ({_message(error)}), even after retries."
            )
        return SourceError(
            f"{where} answered something that is not a ChatKit API response ({error!r})."
        )

    async def threads(self, users: Iterable[str], since: float | None) -> AsyncIterator[Json]:
        """Every thread (of ``users`` when given), newest first, down to ``since``."""
        scopes: list[str | None] = [*users] or [None]
        for user in scopes:
            listing = (
                self._client.beta.chatkit.threads.list(limit=PAGE_SIZE, order="desc", user=user)
                if user is not None
                else self._client.beta.chatkit.threads.list(limit=PAGE_SIZE, order="desc")
            )
            async for thread in listing:
                if since is not None and thread.created_at < since:
                    break  # newest first: every later one is older still
                yield thread.to_dict()

    async def thread(self, thread_id: str) -> Json | None:
        """One thread by id, or None if the source has no such thread."""
        try:
            thread = await self._client.beta.chatkit.threads.retrieve(thread_id)
        except openai.NotFoundError:
            return None
        except openai.BadRequestError:
            return None  # an id the source refuses outright (a wrong prefix)
        return thread.to_dict()

    async def items(self, thread_id: str) -> AsyncIterator[Json]:
        """A thread's items, oldest first."""
        listing = self._client.beta.chatkit.threads.list_items(
            thread_id, limit=PAGE_SIZE, order="asc"
        )
        async for item in listing:
            yield item.to_dict()

    async def newest_item_id(self, thread_id: str) -> str | None:
        page = await self._client.beta.chatkit.threads.list_items(thread_id, limit=1, order="desc")
        return page.data[0].id if page.data else None


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return error.message
