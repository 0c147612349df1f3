"""Web search engines turnout calls itself, by their public HTTP APIs, for models whose provider
does not search: SearXNG (self-hosted, its JSON API), Exa, Tavily and Brave.

Each engine is configured under `web_search.engines.<name>` with its `url` (SearXNG's is required;
the others default to their public API), `api_key`, and `price` in USD per search. Answers are
bounded (`MAX_ANSWER_BYTES`, the engine's `timeout`) and parsed into `SearchResult`s; an engine
that fails or answers nonsense is a 502 naming the engine, never a hang.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from turnout.core.upstream.http import HTTPClient, HTTPError
from turnout.model.errors import ErrorKind, GatewayError
from turnout.settings import ConfigError

MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_CONTENT_CHARS = 2_000  # of each result's text, in the prompt and in its citation
MAX_TITLE_CHARS = 300
MAX_URL_CHARS = 2_048
MAX_RESULTS_READ = 100  # of an engine's answer
DEFAULT_URLS = {
    "exa": "https://api.exa.ai/search",
    "tavily": "https://api.tavily.com/search",
    "brave": "https://api.search.brave.com/res/v1/web/search",
}
NAMES = ("searxng", "exa", "tavily", "brave")


@dataclass(frozen=True, slots=True)
class SearchResult:
    url: str
    title: str
    content: str


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    url: str
    api_key: str | None
    price: Decimal
    timeout: float

    def request(self, query: str, n: int, include: list[str], exclude: list[str]) -> tuple[str, str, dict[str, str], bytes]:
        """(method, url, headers, body) of one search in the engine's own API."""
        if self.name == "searxng":
            q = " ".join([query, *(f"site:{d}" for d in include[:1]), *(f"-site:{d}" for d in exclude)])
            url = f"{self.url.rstrip('/')}/search?{urlencode({'q': q, 'format': 'json'})}"
            return "GET", url, {"accept": "application/json"}, b""
        if self.name == "brave":
            q = " ".join([query, *(f"site:{d}" for d in include[:1]), *(f"-site:{d}" for d in exclude)])
            url = f"{self.url}?{urlencode({'q': q, 'count': min(n, 20)})}"
            return "GET", url, {"accept": "application/json", "x-subscription-token": self.api_key or ""}, b""
        if self.name == "exa":
            body: dict[str, Any] = {"query": query, "numResults": n, "contents": {"text": {"maxCharacters": MAX_CONTENT_CHARS}}}
            if include:
                body["includeDomains"] = include
            if exclude:
                body["excludeDomains"] = exclude
            return "POST", self.url, {"content-type": "application/json", "x-api-key": self.api_key or ""}, orjson.dumps(body)
        body = {"query": query, "max_results": min(n, 20)}  # tavily
        if include:
            body["include_domains"] = include
        if exclude:
            body["exclude_domains"] = exclude
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.api_key or ''}"}
        return "POST", self.url, headers, orjson.dumps(body)

    def parse(self, answer: Any) -> list[SearchResult]:
        """The engine's answer as results; a shape it never sends raises ValueError."""
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        if self.name == "brave":
            if answer.get("type") != "search":  # a search without web hits has no `web` key at all
                raise ValueError("not a search answer")
            web = answer.get("web") or {}
            items, text_key = (web.get("results") if isinstance(web, dict) else None) or [], "description"
        else:
            items, text_key = answer.get("results"), "text" if self.name == "exa" else "content"
        if not isinstance(items, list):
            raise ValueError("no results array")
        out = []
        for item in items[:MAX_RESULTS_READ]:
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > MAX_URL_CHARS:
                continue
            content = item.get(text_key)
            if not isinstance(content, str) and self.name == "exa":
                highlights = item.get("highlights")
                content = " ".join(h for h in highlights if isinstance(h, str)) if isinstance(highlights, list) else ""
            title = " ".join(str(item.get("title") or "").split())[:MAX_TITLE_CHARS]
            out.append(SearchResult(url, title, str(content or "")[:MAX_CONTENT_CHARS]))
        return out


def engines_from(config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> tuple[dict[str, Engine], str | None]:
    """The configured engines and the default one (`web_search.engine`, else the only one)."""
    env = os.environ if env is None else env
    raw = config.get("engines") or {}
    if not isinstance(raw, dict):
        raise ConfigError("web_search.engines must be a mapping of engine name to its settings")
    engines: dict[str, Engine] = {}
    for name, opts in raw.items():
        where = f"web_search.engines.{name}"
        if name not in NAMES:
            raise ConfigError(f"{where}: unknown engine; turnout speaks {', '.join(NAMES)}")
        opts = opts or {}
        if not isinstance(opts, dict):
            raise ConfigError(f"{where} must be a mapping")
        url = opts.get("url") or DEFAULT_URLS.get(name)
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"{where}.url must be an http(s) URL")
        key = opts.get("api_key")
        if key is None and isinstance(opts.get("api_key_env"), str):
            key = env.get(opts["api_key_env"])
        if name != "searxng" and not key:
            raise ConfigError(f"{where}: needs api_key (or api_key_env naming a variable that is set)")
        try:
            price = Decimal(str(opts.get("price", "0")))
        except InvalidOperation:
            raise ConfigError(f"{where}.price must be a number (USD per search)") from None
        if price < 0:
            raise ConfigError(f"{where}.price must not be negative")
        timeout = opts.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where}.timeout must be a positive number of seconds")
        engines[name] = Engine(name, url, key, price, float(timeout))
    default = config.get("engine")
    if default is not None and default not in engines:
        raise ConfigError(f"web_search.engine: {default!r} is not configured under web_search.engines")
    if default is None and len(engines) == 1:
        default = next(iter(engines))
    return engines, default


def engine_failed(engine: Engine, why: str) -> GatewayError:
    return GatewayError(ErrorKind.PROVIDER_BAD_RESPONSE, f"web search engine {engine.name} failed: {why}",
                        metadata={"engine": engine.name})


async def search(client: HTTPClient, engine: Engine, query: str, n: int, include: list[str],
                 exclude: list[str]) -> list[SearchResult]:
    # a few more than wanted when filtering: turnout applies the domain filters itself as well
    ask = min(n + 5, 25) if include or exclude else n
    method, url, headers, body = engine.request(query, ask, include, exclude)
    try:
        async with asyncio.timeout(engine.timeout):
            resp = await client.request(method, url, headers, body, read_timeout=engine.timeout)
            whole = False
            try:
                declared = resp.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise engine_failed(engine, "its answer is too large")
                chunks: list[bytes] = []
                size = 0
                while chunk := await resp.readany():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise engine_failed(engine, "its answer is too large")
                    chunks.append(chunk)
                whole = True
            finally:
                if whole:
                    resp.release()  # back to the pool
                else:
                    resp.close()
    except TimeoutError:
        raise engine_failed(engine, f"no answer within {engine.timeout:g} s") from None
    except HTTPError as exc:
        raise engine_failed(engine, str(exc)) from None
    if resp.status >= 400:
        raise engine_failed(engine, f"HTTP {resp.status}")
    try:
        results = engine.parse(orjson.loads(b"".join(chunks)))
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise engine_failed(engine, f"an answer that is not its search format ({exc})") from None
    return filtered(results, include, exclude)[:n]


def _host_matches(url: str, domain: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    name, _, path = domain.partition("/")
    if name.startswith("*."):
        name = name[2:]
    if not (host == name or host.endswith("." + name)):
        return False
    return not path or parts.path.lstrip("/").startswith(path)


def filtered(results: list[SearchResult], include: list[str], exclude: list[str]) -> list[SearchResult]:
    """Domain filters applied to what came back, whatever the engine did with them."""
    out = [r for r in results if not any(_host_matches(r.url, d) for d in exclude)]
    if include:
        out = [r for r in out if any(_host_matches(r.url, d) for d in include)]
    return out
