"""A fake OpenAI-compatible upstream whose answers produce nothing, for zero-completion insurance.

`POST /v1/chat/completions` (OpenAI's wire format, streamed or not); the model name picks:
  empty          no content, `finish_reason: null`, usage with 0 completion tokens
  partial-error  some content, then `finish_reason: "error"` (as OpenRouter reports a provider
                 failure after partial output), usage with the tokens produced
  json-broken    the content of the last user message, verbatim (to serve broken JSON as is)
  searcher-empty  calls `web_search` with an empty query for ever (a model misbehaving)
  searcher       offered a `web_search` tool, calls it (`{"query": "turnout gateway"}`) until it has
                 `searches` tool results (the number after `searcher-`, default 1), then answers
                 citing the first URL of the last result as a markdown link; with the caller's
                 tool `get_time` offered too, calls both at once
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

URL = re.compile(r"\]\((https?://[^)\s]+)\)")


def _searcher(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed message from the `searcher` scenarios."""
    model = body.get("model", "")
    if model == "searcher-empty":
        call = {"id": "call_e", "type": "function", "function": {"name": "web_search", "arguments": "{\"query\": \"\"}"}}
        return {"message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish": "tool_calls"}
    wanted = int(model.split("-", 1)[1]) if "-" in model else 1
    tools = {t["function"]["name"] for t in body.get("tools") or []}
    results = [m for m in body.get("messages") or [] if m.get("role") == "tool"]
    if "web_search" in tools and len(results) < wanted:
        calls = [{"id": f"call_s{len(results)}", "type": "function",
                  "function": {"name": "web_search", "arguments": json.dumps({"query": "turnout gateway"})}}]
        if "get_time" in tools:
            calls.append({"id": "call_t", "type": "function", "function": {"name": "get_time", "arguments": "{}"}})
        return {"message": {"role": "assistant", "content": None, "tool_calls": calls}, "finish": "tool_calls"}
    urls = [u for u in URL.findall(str(results[-1].get("content"))) if "some-page" not in u] if results else []  # not the example link
    text = f"According to [source]({urls[0]}), it is a gateway." if urls else "I did not search."
    return {"message": {"role": "assistant", "content": text}, "finish": "stop"}


def _answer(body: dict[str, Any]) -> tuple[str, str | None, int]:
    model = body.get("model", "")
    if model == "empty":
        return "", None, 0
    if model == "partial-error":
        return "partial answ", "error", 3
    text = ""
    for m in body.get("messages") or []:
        if m.get("role") == "user":
            c = m.get("content")
            text = c if isinstance(c, str) else "".join(p.get("text", "") for p in c or [] if p.get("type") == "text")
    return text, "stop", max(1, len(text.split()))


def _usage(completion: int) -> dict[str, Any]:
    return {"prompt_tokens": 12, "completion_tokens": completion, "total_tokens": 12 + completion}


def create_app() -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        head = {"id": "chatcmpl-empty", "created": 1, "model": body.get("model")}
        if str(body.get("model", "")).startswith("searcher"):
            a = _searcher(body)
            return JSONResponse({**head, "object": "chat.completion", "choices": [
                {"index": 0, "finish_reason": a["finish"], "message": a["message"]}], "usage": _usage(7)})
        content, finish, completion = _answer(body)
        if not body.get("stream"):
            return JSONResponse({**head, "object": "chat.completion", "choices": [
                {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
                "usage": _usage(completion)})

        async def events() -> AsyncIterator[bytes]:
            def frame(choices: list[Any], **extra: Any) -> bytes:
                return b"data: " + json.dumps({**head, "object": "chat.completion.chunk", "choices": choices,
                                               **extra}).encode() + b"\n\n"
            if content:
                yield frame([{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}])
            yield frame([{"index": 0, "delta": {}, "finish_reason": finish}])
            yield frame([], usage=_usage(completion))
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
