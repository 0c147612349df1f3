"""A fake Z.ai upstream on loopback: `POST /api/paas/v4/chat/completions` in Z.ai's wire format.

Format facts (docs.z.ai/api-reference/llm/chat-completion): OpenAI-shaped completions whose
message and deltas carry `reasoning_content`; `thinking: {"type": "disabled"}` turns thinking off
(on by default); the usage object (`prompt_tokens`, `completion_tokens`, `total_tokens`,
`prompt_tokens_details.cached_tokens`) rides on the last stream chunk, with no stream_options;
the stream ends with `data: [DONE]`; web search results come back as a top-level `web_search`
array; errors are `{"error": {"code": "<business code>", "message": ...}}`.

Completions and stream chunks are built with zai-sdk's own models (zai.types.chat Completion,
ChatCompletionChunk) through tests/fakes/sdk_shapes.py, so the fake cannot send a field the SDK
does not declare; the one addition is the top-level `web_search` array, which Z.ai's API spec
documents and the SDK keeps as an extra. Usage reports thinking in
`completion_tokens_details.reasoning_tokens`, as the SDK's CompletionUsage declares.

The model name picks the scenario: echo, tools, reasoning, reasoning-unreported (no
completion_tokens_details), cached, web, error-400, error-401,
error-429, error-500, overloaded (429 with code 1305), html-500, empty-500, cut.
Every request is kept in `state.requests` (path, headers, body).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from zai.types.chat.chat_completion import Completion
from zai.types.chat.chat_completion_chunk import ChatCompletionChunk

from tests.fakes.sdk_shapes import shape

REASONING = "The user wants a weather lookup; 2 plus 2 is 4."
REASONING_TOKENS = 31  # what the fake's usage reports for REASONING (not 4 characters a token)
ARGS = '{"city": "Paris", "unit": "celsius"}'
ERRORS: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {
    "error-400": (400, {"error": {"code": "1214", "message": "Incorrect parameter: messages"}}, {}),
    "error-401": (401, {"error": {"code": "1000", "message": "Authentication failed"}}, {}),
    "error-429": (429, {"error": {"code": "1302", "message": "High concurrency usage of this API"}}, {"retry-after": "7"}),
    "error-500": (500, {"error": {"code": "500", "message": "Internal server error"}}, {}),
    "overloaded": (429, {"error": {"code": "1305", "message": "The service may be temporarily overloaded, please try again later"}}, {}),
}


@dataclass
class ZaiState:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(p.get("text", "") for p in c or [] if p.get("type") == "text")
    return ""


def _answer(body: dict[str, Any], scenario: str) -> dict[str, Any]:
    thinking = (body.get("thinking") or {}).get("type", "enabled") == "enabled"
    a: dict[str, Any] = {"content": f"echo: {_last_user_text(body)}", "finish": "stop"}
    if scenario == "tools":
        a = {"content": None, "calls": [{"id": "call_-8fd2a1b3c4", "name": "get_weather", "arguments": ARGS}], "finish": "tool_calls"}
    elif scenario == "structured":
        a["content"] = '{"city": "Paris", "temperature": 21}'
    if scenario in ("reasoning", "reasoning-unreported") and thinking:
        a["reasoning"] = REASONING
    return a


def _usage(scenario: str, a: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = (1200, 40) if scenario == "cached" else (20, 10)
    reasoning = REASONING_TOKENS if "reasoning" in a else 0
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion + reasoning,
        "total_tokens": prompt + completion + reasoning,
        "prompt_tokens_details": {"cached_tokens": 1000 if scenario == "cached" else 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    if scenario == "reasoning-unreported":  # the details are optional in the SDK's CompletionUsage
        del usage["completion_tokens_details"]
    return usage


def _web_search() -> list[dict[str, Any]]:
    return [{"title": "Paris weather", "link": "https://weather.example/paris", "content": "Sunny, 21C", "refer": "ref_1"}]


def create_app(state: ZaiState) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        scenario = str(body.get("model", ""))
        if scenario in ERRORS:
            status, payload, headers = ERRORS[scenario]
            return JSONResponse(payload, status, headers)
        if scenario == "html-500":
            return Response(b"<html><body><h1>500 Internal Server Error</h1></body></html>", 500, media_type="text/html")
        if scenario == "empty-500":
            return Response(b"", 500)
        a = _answer(body, scenario)
        if body.get("stream"):
            return StreamingResponse(_stream(body, scenario, a), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": a["content"]}
        if "reasoning" in a:
            message["reasoning_content"] = a["reasoning"]
        if "calls" in a:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in a["calls"]
            ]
        out: dict[str, Any] = {
            "id": "20251122102233abcd",
            "request_id": body.get("request_id", "20251122102233abcd"),
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": a["finish"], "message": message}],
            "usage": _usage(scenario, a),
        }
        if scenario == "web":
            out["web_search"] = _web_search()
        return JSONResponse(shape(Completion, out, also=("web_search",)))

    return Starlette(routes=[Route("/api/paas/v4/chat/completions", chat, methods=["POST"])])


def _frame(obj: dict[str, Any]) -> bytes:
    chunk = shape(ChatCompletionChunk, obj, also=("web_search",), unchecked_required=("extra_json",))
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


async def _stream(body: dict[str, Any], scenario: str, a: dict[str, Any]) -> AsyncIterator[bytes]:
    head = {"id": "20251122102233abcd", "created": int(time.time()), "model": body.get("model")}

    def chunk(delta: dict[str, Any], **extra: Any) -> bytes:
        return _frame({**head, "choices": [{"index": 0, "delta": {"role": "assistant", **delta}}], **extra})

    if scenario == "web":  # search results come first, on a chunk whose delta is still empty
        yield _frame({**head, "choices": [{"index": 0, "delta": {"role": "assistant"}}], "web_search": _web_search()})
    for word in (a.get("reasoning") or "").split():
        yield chunk({"reasoning_content": word + " "})
    for i, call in enumerate(a.get("calls") or ()):
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": ""}}]})
        args = call["arguments"]
        for j in range(0, len(args), 6):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[j : j + 6]}}]})
    words = (a["content"] or "").split(" ") if a["content"] else []
    for n, word in enumerate(words):
        if scenario == "cut" and n == 2:
            raise ConnectionAbortedError("cut")  # uvicorn drops the connection mid-body
        yield chunk({"content": word if n == len(words) - 1 else word + " "})
    final = {**head, "choices": [{"index": 0, "finish_reason": a["finish"], "delta": {"role": "assistant", "content": ""}}]}
    final["usage"] = _usage(scenario, a)
    yield _frame(final)
    yield b"data: [DONE]\n\n"
