"""Fake web search engines on loopback, each speaking its real API's request and answer format.

- SearXNG: `GET /searxng/search?q=...&format=json` -> `{"query", "number_of_results", "results":
  [{"url", "title", "content", "engine", "score", ...}], "answers", "suggestions", ...}`
  (https://docs.searxng.org/dev/search_api.html).
- Exa: `POST /exa/search` with `x-api-key`, JSON `{query, numResults, includeDomains?,
  excludeDomains?, contents: {text: ...}}` -> `{"requestId", "resolvedSearchType", "results":
  [{"id", "title", "url", "publishedDate", "author", "text"}], "costDollars": {...}}`.
- Tavily: `POST /tavily/search` with `Authorization: Bearer`, JSON `{query, max_results,
  include_domains?, exclude_domains?}` -> `{"query", "answer", "images", "results": [{"title",
  "url", "content", "score", "raw_content"}], "response_time"}`.
- Brave: `GET /brave/res/v1/web/search?q=...&count=N` with `X-Subscription-Token` ->
  `{"type": "search", "query": {...}, "web": {"type": "search", "results": [{"title", "url",
  "description", "is_source_local", ...}]}}`.
A wrong key gets the engine's 401. The query `fail` gets a 500, `slow` sleeps past any timeout
the tests set, `junk` an answer in no engine's format. Every request lands in `state.requests`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY = "engine-key"
HITS = [
    ("https://www.example.com/turnout", "Turnout, a self-hosted gateway", "Turnout puts many models behind one key."),
    ("https://docs.example.org/plugins", "Plugins explained", "Plugins make any model search the web."),
    ("https://news.example.net/2026/gateways", "Gateways in 2026", "A survey of LLM gateways."),
    ("https://blog.example.io/pdf", "Reading PDFs", "Extracting text from PDFs for text-only models."),
    ("https://wiki.example.com/json", "JSON repair", "Fixing broken JSON from models."),
    ("https://www.example.com/other", "Another page", "More text on example.com."),
]


@dataclass
class EngineState:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _hits(n: int) -> list[tuple[str, str, str]]:
    return HITS[: max(0, min(n, len(HITS)))]


def create_app(state: EngineState) -> Starlette:
    async def special(query: str) -> Response | None:
        if "fail" in query.split():
            return JSONResponse({"error": "internal"}, status_code=500)
        if "slow" in query.split():
            await asyncio.sleep(5)
        if "junk" in query.split():
            return JSONResponse({"nothing": "here"})
        return None

    async def searxng(request: Request) -> Response:
        q = request.query_params.get("q", "")
        state.requests.append({"engine": "searxng", "query": dict(request.query_params), "headers": dict(request.headers)})
        if request.query_params.get("format") != "json":
            return Response("<html>not json</html>", media_type="text/html")
        if (r := await special(q)) is not None:
            return r
        results = [{"url": u, "title": t, "content": c, "engine": "duckduckgo", "engines": ["duckduckgo"],
                    "parsed_url": ["https", u.split("/")[2], "/", "", "", ""], "template": "default.html",
                    "positions": [i + 1], "score": 1.0 / (i + 1), "category": "general"}
                   for i, (u, t, c) in enumerate(_hits(6))]
        return JSONResponse({"query": q, "number_of_results": len(results), "results": results, "answers": [],
                             "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []})

    async def exa(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"engine": "exa", "body": body, "headers": dict(request.headers)})
        if request.headers.get("x-api-key") != KEY:
            return JSONResponse({"requestId": "r1", "error": "Invalid API key", "tag": "INVALID_API_KEY"}, status_code=401)
        if (r := await special(body.get("query", ""))) is not None:
            return r
        results = [{"id": u, "title": t, "url": u, "publishedDate": "2026-11-01T00:00:00.000Z", "author": None, "text": c}
                   for u, t, c in _hits(int(body.get("numResults", 10)))]
        return JSONResponse({"requestId": "b5947044c4b78efa9552a7c89b306d95", "resolvedSearchType": "neural",
                             "results": results, "costDollars": {"total": 0.005}})

    async def tavily(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"engine": "tavily", "body": body, "headers": dict(request.headers)})
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"detail": {"error": "Unauthorized: missing or invalid API key."}}, status_code=401)
        if (r := await special(body.get("query", ""))) is not None:
            return r
        results = [{"title": t, "url": u, "content": c, "score": 0.9, "raw_content": None}
                   for u, t, c in _hits(int(body.get("max_results", 5)))]
        return JSONResponse({"query": body.get("query"), "follow_up_questions": None, "answer": None, "images": [],
                             "results": results, "response_time": 1.1})

    async def brave(request: Request) -> Response:
        q = request.query_params.get("q", "")
        state.requests.append({"engine": "brave", "query": dict(request.query_params), "headers": dict(request.headers)})
        if request.headers.get("x-subscription-token") != KEY:
            return JSONResponse({"type": "ErrorResponse", "error": {"status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID",
                                                                     "detail": "The provided subscription token is invalid."}},
                                status_code=401)
        if (r := await special(q)) is not None:
            return r
        results = [{"title": t, "url": u, "description": c, "is_source_local": False, "is_source_both": False,
                    "language": "en", "family_friendly": True, "type": "search_result"}
                   for u, t, c in _hits(int(request.query_params.get("count", "20")))]
        return JSONResponse({"type": "search", "query": {"original": q, "more_results_available": False},
                             "mixed": {"type": "mixed", "main": []}, "web": {"type": "search", "results": results,
                                                                              "family_friendly": True}})

    return Starlette(routes=[
        Route("/searxng/search", searxng),
        Route("/exa/search", exa, methods=["POST"]),
        Route("/tavily/search", tavily, methods=["POST"]),
        Route("/brave/res/v1/web/search", brave),
    ])
