"""A fake OpenAI-compatible upstream whose answers produce nothing, for zero-completion insurance.

`POST /v1/chat/completions` (OpenAI's wire format, streamed or not); the model name picks:
  empty          no content, `finish_reason: null`, usage with 0 completion tokens
  partial-error  some content, then `finish_reason: "error"` (as OpenRouter reports a provider
                 failure after partial output), usage with the tokens produced
  json-broken    the content of the last user message, verbatim (to serve broken JSON as is)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


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
        content, finish, completion = _answer(body)
        head = {"id": "chatcmpl-empty", "created": 1, "model": body.get("model")}
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
