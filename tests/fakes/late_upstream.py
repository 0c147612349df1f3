"""An OpenAI-dialect upstream that takes its time before answering (issue 17: streams that open at once).

The model name picks the behaviour:

  late-ok      streams "Hello world" after `LATE` seconds of silence (no status line before that)
  late-500     answers 500 after `LATE` seconds
  quick-500    answers 500 at once
  quick-ok     streams "Hello world" at once
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

LATE = 1.0


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-late", "object": "chat.completion.chunk", "created": 1, "model": "m",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def _stream() -> AsyncIterator[bytes]:
    yield _chunk({"role": "assistant", "content": "Hello"})
    yield _chunk({"content": " world"})
    yield _chunk({}, "stop")
    yield _chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})
    yield b"data: [DONE]\n\n"


def create_app() -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", ""))
        if model.startswith("late-"):
            await asyncio.sleep(LATE)
        if model.endswith("-500"):
            return JSONResponse({"error": {"message": "upstream exploded", "type": "server_error"}}, status_code=500)
        if not body.get("stream"):
            return JSONResponse({
                "id": "chatcmpl-late", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            })
        return StreamingResponse(_stream(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
