"""Web search backends for ``WebSearchTool`` off OpenAI: SearXNG, Tavily, Brave Search.

Each turns a ``SearchQuery`` into at most ``max_results`` results (title, URL, snippet). A
failure is a ``SearchFailed`` that names the backend and what went wrong in words safe for
logs: never a key, never the request's headers.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from kithost.settings import Settings

_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class SearchQuery:
    text: str
    max_results: int
    allowed_domains: tuple[str, ...] = ()
    country: str | None = None  # ISO 3166 alpha-2, from the tool's user_location

    def text_with_sites(self) -> str:
        """The query with a ``site:`` filter, for backends that have no domain parameter."""
        if not self.allowed_domains:
            return self.text
        sites = " OR ".join(f"site:{domain}" for domain in self.allowed_domains)
        return f"{self.text} ({sites})" if len(self.allowed_domains) > 1 else f"{self.text} {sites}"


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str = ""


class SearchFailed(Exception):
    """A backend did not answer usably; ``reason`` is safe to log and to tell the model."""

    def __init__(self, backend: str, reason: str):
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason


class SearchBackend(Protocol):
    @property
    def label(self) -> str:
        """The backend and where it is, for findings and logs (no key)."""
        ...

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        """At most ``query.max_results`` results from allowed domains; ``SearchFailed`` else."""
        ...


@dataclass(frozen=True)
class SearXNG:
    """A SearXNG instance's JSON API (``search.formats`` must list ``json``)."""

    url: str
    timeout: float
    name: str = "SearXNG"

    @property
    def label(self) -> str:
        return f"{self.name} at {safe_url(self.url)}"

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/search") else f"{base}/search"

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        # No region hint: SearXNG's only one is a language, which a country does not tell;
        # its default ("auto") reads the language from the query the model wrote.
        params = {"q": query.text_with_sites(), "format": "json"}
        body = await _call(self.name, "GET", self.endpoint, self.timeout, params=params)
        return _results(body.get("results"), query, title="title", url="url", snippet="content")


@dataclass(frozen=True)
class Tavily:
    """Tavily's search API (``POST /search``, Bearer key)."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: float
    name: str = "Tavily"

    @property
    def label(self) -> str:
        return f"{self.name} ({safe_url(self.base_url)})"

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        # Tavily's `country` takes English country names, not the ISO code exports carry.
        payload: dict[str, Any] = {"query": query.text, "max_results": query.max_results}
        if query.allowed_domains:
            payload["include_domains"] = list(query.allowed_domains)
        body = await _call(
            self.name,
            "POST",
            f"{self.base_url.rstrip('/')}/search",
            self.timeout,
            json=payload,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        return _results(body.get("results"), query, title="title", url="url", snippet="content")


@dataclass(frozen=True)
class Brave:
    """Brave Search's web search API (``X-Subscription-Token`` key)."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: float
    name: str = "Brave Search"

    @property
    def label(self) -> str:
        return f"{self.name} ({safe_url(self.base_url)})"

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        params: dict[str, Any] = {"q": query.text_with_sites(), "count": query.max_results}
        if query.country:
            params["country"] = query.country
        body = await _call(
            self.name,
            "GET",
            f"{self.base_url.rstrip('/')}/res/v1/web/search",
            self.timeout,
            params=params,
            headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"},
        )
        web = body.get("web")
        raw = web.get("results") if isinstance(web, dict) else []
        return _results(raw, query, title="title", url="url", snippet="description")


def backend_from_settings(settings: Settings) -> SearchBackend | None:
    """The configured backend: SearXNG first, then Tavily, then Brave; None when none is."""
    timeout = settings.web_search_timeout
    if settings.web_search_url:
        return SearXNG(settings.web_search_url, timeout)
    if settings.tavily_api_key is not None and settings.tavily_api_key.get_secret_value():
        key = settings.tavily_api_key.get_secret_value()
        return Tavily(key, settings.tavily_base_url, timeout)
    if settings.brave_api_key is not None and settings.brave_api_key.get_secret_value():
        key = settings.brave_api_key.get_secret_value()
        return Brave(key, settings.brave_base_url, timeout)
    return None


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def _call(
    backend: str, method: str, url: str, seconds: float, **request: Any
) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=seconds) as client:
            response = await client.request(method, url, **request)
    except httpx.TimeoutException:
        raise SearchFailed(backend, f"did not answer within {seconds:g} s") from None
    except httpx.HTTPError as error:
        raise SearchFailed(backend, f"cannot be reached ({type(error).__name__})") from None
    if response.status_code != 200:
        raise SearchFailed(backend, f"answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise SearchFailed(backend, "answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise SearchFailed(backend, "answered JSON of an unexpected shape")
    return body


def _results(
    raw: Any, query: SearchQuery, *, title: str, url: str, snippet: str
) -> list[SearchResult]:
    results: list[SearchResult] = []
    seen: set[str] = set()
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        link = entry.get(url)
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            continue
        if link in seen or not allowed(link, query.allowed_domains):
            continue
        seen.add(link)
        results.append(
            SearchResult(
                title=_plain(entry.get(title)) or link,
                url=link,
                snippet=_plain(entry.get(snippet)),
            )
        )
        if len(results) == query.max_results:
            break
    return results


def allowed(url: str, domains: tuple[str, ...]) -> bool:
    """Whether ``url`` is on one of ``domains`` or a subdomain (all when there are none)."""
    if not domains:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith(f".{d}") for d in (d.lower() for d in domains))


def _plain(value: Any) -> str:
    """Text without markup (Brave marks matches with ``<strong>``) or runs of whitespace."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(_TAGS.sub("", value)).split())
