"""A fake Anthropic upstream on loopback: `POST /v1/messages` in the Messages API wire format.

Every message, stream event and error body is built with the official SDK's own response models
(anthropic.types.Message, RawMessageStreamEvent members, shared.ErrorResponse) through
tests/fakes/sdk_shapes.py, so the fake cannot send a field, block or stop reason the SDK does not
declare. Format facts beyond the models (docs.anthropic.com streaming and errors): a stream is
`event: <type>` + `data: <json>` pairs with `ping`s between, `message_start` carries the usage so
far and `message_delta` the cumulative usage; `output_tokens` includes thinking, reported apart in
`output_tokens_details.thinking_tokens`. The fake checks `x-api-key` and that `anthropic-version`
is the one the SDK sends.

The model name picks the scenario: echo, tools, tools-noargs (a tool call whose input streams as
nothing), reasoning (thinks when `thinking` is on: adaptive or enabled), structured, cached,
citations (a web-search citation on the text), refusal (stop_reason refusal with stop_details),
error-400, error-401, error-429, error-500, overloaded, html-500, empty-500, cut, stream-error (an
`error` event after some text), early-overload (streams: an `error` event before any content).
Requests are kept in `state.requests`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types import (
    Message,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)
from anthropic.types.shared import ErrorResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.sdk_shapes import shape

API_KEY = "sk-ant-upstream"
THINKING = "The user asks for weather; I should call the tool."
THINKING_TOKENS = 150  # what Anthropic reports for THINKING (the raw reasoning, not the summary's characters)
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
INPUT = {"city": "Paris", "unit": "celsius"}
MESSAGE_ID = "msg_013Zva2CMHLNnXjNJJKqJ2EF"
CITATION = {"type": "web_search_result_location", "url": "https://weather.example/paris", "title": "Paris weather",
            "cited_text": "Sunny, 21C", "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0OWJmZi1lNm"}
REFUSAL_DETAILS = {"type": "refusal", "category": "cyber", "explanation": "This request could enable malware development."}


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = shape(ErrorResponse, {"type": "error", "error": {"type": kind, "message": message}})
    return JSONResponse(body, status, headers or {})


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


def _thinks(body: dict[str, Any]) -> bool:
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


def _blocks(body: dict[str, Any], scenario: str) -> tuple[list[dict[str, Any]], str]:
    blocks: list[dict[str, Any]] = []
    if _thinks(body) and scenario in ("reasoning", "tools"):
        omitted = (body.get("thinking") or {}).get("display") == "omitted"
        blocks.append({"type": "thinking", "thinking": "" if omitted else THINKING, "signature": SIGNATURE})
    if scenario == "refusal":
        return [], "refusal"
    if scenario in ("tools", "tools-noargs"):
        blocks.append({"type": "text", "text": "Let me check."})
        args = INPUT if scenario == "tools" else {}
        blocks.append({"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": args})
        return blocks, "tool_use"
    text = '{"city": "Paris", "temperature": 21}' if scenario == "structured" else f"echo: {_last_user_text(body)}"
    block: dict[str, Any] = {"type": "text", "text": text}
    if scenario == "citations":
        block["citations"] = [CITATION]
    blocks.append(block)
    return blocks, "end_turn"


def _usage(scenario: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if scenario == "cached":
        return {"input_tokens": 100, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 2000, "output_tokens": 50}
    thinking = THINKING_TOKENS if any(b["type"] == "thinking" for b in blocks) else 0
    usage: dict[str, Any] = {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                             "output_tokens": 10 + thinking, "output_tokens_details": {"thinking_tokens": thinking}}
    if scenario == "citations":
        usage["server_tool_use"] = {"web_search_requests": 1, "web_fetch_requests": 0}
    return usage


def _message(body: dict[str, Any], blocks: list[dict[str, Any]], stop: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"id": MESSAGE_ID, "type": "message", "role": "assistant", "model": body["model"],
                            "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
    if stop == "refusal":
        data["stop_details"] = REFUSAL_DETAILS
    return shape(Message, data)


def create_app(state: AnthropicState) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        if request.headers.get("anthropic-version") != ANTHROPIC_API_VERSION:
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if request.headers.get("x-api-key") != API_KEY:
            return _error(401, "authentication_error", "invalid x-api-key")
        if "max_tokens" not in body:
            return _error(400, "invalid_request_error", "max_tokens: Field required")
        for name in ("temperature", "top_p", "top_k"):  # this API version takes no sampling parameter
            if name in body:
                return _error(400, "invalid_request_error", f"{name}: Extra inputs are not permitted")
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
        return JSONResponse(_message(body, blocks, stop, _usage(scenario, blocks)))

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _ping() -> bytes:
    return b'event: ping\ndata: {"type": "ping"}\n\n'  # not an SDK model: the SDK skips pings


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _event(shape(RawContentBlockDeltaEvent, {"type": "content_block_delta", "index": index, "delta": delta}))


def _start(index: int, block: dict[str, Any]) -> bytes:
    return _event(shape(RawContentBlockStartEvent, {"type": "content_block_start", "index": index, "content_block": block}))


async def _stream(body: dict[str, Any], scenario: str, blocks: list[dict[str, Any]], stop: str) -> AsyncIterator[bytes]:
    usage = _usage(scenario, blocks)
    start_usage = {k: v for k, v in usage.items() if k not in ("output_tokens_details", "server_tool_use")}
    start_usage["output_tokens"] = 1
    message = _message(body, [], None, start_usage)
    yield _event(shape(RawMessageStartEvent, {"type": "message_start", "message": message}))
    yield _ping()
    if scenario == "early-overload":  # 200, then an error before any content (Anthropic does this under load)
        yield _event(shape(ErrorResponse, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        return
    if scenario == "early-invalid":  # 200, then a refusal of the request itself before any content
        yield _event(shape(ErrorResponse, {"type": "error", "error": {"type": "invalid_request_error",
                                                                      "message": "prompt is too long"}}))
        return
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            yield _start(i, {"type": "thinking", "thinking": "", "signature": ""})
            for word in filter(None, block["thinking"].split(" ")):
                yield _delta(i, {"type": "thinking_delta", "thinking": word + " "})
            yield _delta(i, {"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            yield _start(i, {"type": "text", "text": ""})
            words = block["text"].split(" ")
            for n, word in enumerate(words):
                if scenario == "cut" and n == 2:
                    raise ConnectionAbortedError("cut")
                if scenario == "stream-error" and n == 2:
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    yield _event(shape(ErrorResponse, error))
                    return
                yield _delta(i, {"type": "text_delta", "text": word if n == len(words) - 1 else word + " "})
            for citation in block.get("citations") or ():
                yield _delta(i, {"type": "citations_delta", "citation": citation})
        else:
            yield _start(i, {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
            args = json.dumps(block["input"]) if block["input"] else ""  # no input: no input_json_delta at all
            for j in range(0, len(args), 7):
                yield _delta(i, {"type": "input_json_delta", "partial_json": args[j : j + 7]})
        yield _event(shape(RawContentBlockStopEvent, {"type": "content_block_stop", "index": i}))
    delta: dict[str, Any] = {"stop_reason": stop, "stop_sequence": None}
    if stop == "refusal":
        delta["stop_details"] = REFUSAL_DETAILS
    end_usage = {k: v for k, v in usage.items() if k != "input_tokens"}
    yield _event(shape(RawMessageDeltaEvent, {"type": "message_delta", "delta": delta, "usage": end_usage}))
    yield _event(shape(RawMessageStopEvent, {"type": "message_stop"}))
