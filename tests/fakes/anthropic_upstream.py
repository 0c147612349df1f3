"""A fake Anthropic upstream on loopback: `POST /v1/messages` in the Messages API wire format.

Format facts (docs.anthropic.com/en/api/messages, /en/docs/build-with-claude/streaming,
/en/api/errors): a message has `content` blocks (text, thinking with a signature, tool_use with
an `input` object), `stop_reason` and `usage` (`input_tokens` not counting cache reads or
writes, `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens`). A stream is
`event: <type>` + `data: <json>` pairs: message_start, content_block_start/delta/stop (text_delta,
thinking_delta, signature_delta, input_json_delta), message_delta (stop_reason, usage),
message_stop, with `ping`s in between. Errors are `{"type": "error", "error": {"type", "message"}}`
(529 overloaded_error). The fake checks `x-api-key` and `anthropic-version`.

The model name picks the scenario: echo, tools, reasoning (thinks when `thinking` is enabled),
structured, cached, error-400, error-401, error-429, error-500, overloaded, html-500, empty-500,
cut, stream-error (an `error` event after some text), early-overload (streams: an `error` event
before any content). Requests are kept in `state.requests`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

API_KEY = "sk-ant-upstream"
THINKING = "The user asks for weather; I should call the tool."
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
INPUT = {"city": "Paris", "unit": "celsius"}


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status, headers or {})


ERRORS = {
    "error-400": (400, "invalid_request_error", "messages: roles must alternate between user and assistant", {}),
    "error-401": (401, "authentication_error", "invalid x-api-key", {}),
    "error-429": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", {"retry-after": "7"}),
    "error-500": (500, "api_error", "Internal server error", {}),
    "overloaded": (529, "overloaded_error", "Overloaded", {}),
}


@dataclass
class AnthropicState:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(b.get("text", "") for b in c if b.get("type") == "text")
    return ""


def _blocks(body: dict[str, Any], scenario: str) -> tuple[list[dict[str, Any]], str]:
    thinking = (body.get("thinking") or {}).get("type") == "enabled"
    blocks: list[dict[str, Any]] = []
    if thinking and scenario in ("reasoning", "tools"):
        blocks.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
    if scenario == "tools":
        blocks.append({"type": "text", "text": "Let me check."})
        blocks.append({"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": INPUT})
        return blocks, "tool_use"
    text = '{"city": "Paris", "temperature": 21}' if scenario == "structured" else f"echo: {_last_user_text(body)}"
    blocks.append({"type": "text", "text": text})
    return blocks, "end_turn"


def _usage(scenario: str, blocks: list[dict[str, Any]]) -> dict[str, int]:
    if scenario == "cached":
        return {"input_tokens": 100, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 2000, "output_tokens": 50}
    output = 10 + sum(len(b.get("thinking", "")) // 4 for b in blocks)
    return {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": output}


def create_app(state: AnthropicState) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        if request.headers.get("anthropic-version") != "2023-06-01":
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if request.headers.get("x-api-key") != API_KEY:
            return _error(401, "authentication_error", "invalid x-api-key")
        if "max_tokens" not in body:
            return _error(400, "invalid_request_error", "max_tokens: Field required")
        scenario = str(body.get("model", ""))
        if scenario in ERRORS:
            status, kind, message, headers = ERRORS[scenario]
            return _error(status, kind, message, headers)
        if scenario == "html-500":
            return Response(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", 500, media_type="text/html")
        if scenario == "empty-500":
            return Response(b"", 500)
        blocks, stop = _blocks(body, scenario)
        if body.get("stream"):
            return StreamingResponse(_stream(body, scenario, blocks, stop), media_type="text/event-stream")
        return JSONResponse({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": _usage(scenario, blocks),
        })

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


async def _stream(body: dict[str, Any], scenario: str, blocks: list[dict[str, Any]], stop: str) -> AsyncIterator[bytes]:
    usage = _usage(scenario, blocks)
    start_usage = {**usage, "output_tokens": 1}
    yield _event("message_start", {"message": {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant", "model": body["model"],
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
    yield _event("ping", {})
    if scenario == "early-overload":  # 200, then an error before any content (Anthropic does this under load)
        yield _event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
        return
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            yield _event("content_block_start", {"index": i, "content_block": {"type": "thinking", "thinking": ""}})
            for word in block["thinking"].split(" "):
                yield _event("content_block_delta", {"index": i, "delta": {"type": "thinking_delta", "thinking": word + " "}})
            yield _event("content_block_delta", {"index": i, "delta": {"type": "signature_delta", "signature": block["signature"]}})
        elif kind == "text":
            yield _event("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}})
            words = block["text"].split(" ")
            for n, word in enumerate(words):
                if scenario == "cut" and n == 2:
                    raise ConnectionAbortedError("cut")
                if scenario == "stream-error" and n == 2:
                    yield _event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
                    return
                yield _event("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": word if n == len(words) - 1 else word + " "}})
        else:
            yield _event("content_block_start", {"index": i, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
            args = json.dumps(block["input"])
            for j in range(0, len(args), 7):
                yield _event("content_block_delta", {"index": i, "delta": {"type": "input_json_delta", "partial_json": args[j : j + 7]}})
        yield _event("content_block_stop", {"index": i})
    yield _event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": usage["output_tokens"]}})
    yield _event("message_stop", {})
