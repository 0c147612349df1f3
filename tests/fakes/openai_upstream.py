"""A fake OpenAI-compatible upstream on loopback, speaking the chat-completions wire format.

The upstream model name picks the scenario (TensorZero's dummy provider idea):
  echo            answers "echo: <last user text>"; usage counts words
  tools           calls get_weather({"city": "Paris"})
  reasoning       answers with `reasoning_content` and `reasoning` (as Z.ai / vLLM do), and reasoning tokens
  cached          usage with cached prompt tokens
  no-usage        no usage object at all
  error-400 / error-401 / error-429 / error-500 / error-503 / html-500 / empty-500
  slow            waits `delay` seconds (default 0.3) before answering
  silent          streams: waits 1.2 s before the first chunk (for SSE keep-alives)
  cut             streams two chunks then drops the connection (no finish, no [DONE])
  hang            never answers; notes in `state.cancelled` when the caller closes the connection
  hang-stream     streams one chunk, then nothing (for idle timeouts)
  flood           streams `flood_bytes` (default 2 MB) of text, no usage, then drops the connection
  drip            streams a word every 0.1 s for an hour (never idle: for the overall deadline)
  overbill        answers, reporting a billion prompt and completion tokens (a lying upstream)
  prompt-cache    a provider-side prompt cache per upstream model name: the first request with a
                  prefix (the leading system/developer messages) reports those tokens as cache writes,
                  later ones with the same prefix report them as `cached_tokens` (kept in `state.prompt_cache`)
Every request is recorded in `state.requests` (body and headers) for assertions.
Streams follow https://platform.openai.com/docs/api-reference/chat-streaming: `data: {chunk}`
frames, a final chunk with `choices: []` and `usage` when stream_options.include_usage is set,
then `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class UpstreamState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    api_key: str | None = None  # when set, other keys get a 401
    prompt_cache: set[str] = field(default_factory=set)  # "model|prefix" the prompt-cache scenario holds


def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(p.get("text", "") for p in c or [] if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0, writes: int = 0) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": cached}
    if writes:
        details["cache_write_tokens"] = writes
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _prompt_cache(body: dict[str, Any], state: UpstreamState) -> tuple[int, int]:
    """(cached, written) prompt tokens of the prompt-cache scenario: the prefix is the leading
    system/developer messages; its tokens are written on first sight, read afterwards."""
    prefix = []
    for m in body.get("messages") or []:
        if m.get("role") not in ("system", "developer"):
            break
        prefix.append(m)
    if not prefix:
        return 0, 0
    tokens = _prompt_tokens({"messages": prefix}) - 3
    slot = f"{body.get('model')}|{json.dumps(prefix, sort_keys=True)}"
    if slot in state.prompt_cache:
        return tokens, 0
    state.prompt_cache.add(slot)
    return 0, tokens


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(json.dumps(m.get("content")).split()) for m in body.get("messages") or []) + 3


ERRORS = {
    "error-400": (400, {"error": {"message": "Invalid 'messages': bad role", "type": "invalid_request_error", "param": "messages", "code": None}}),
    "error-401": (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    "error-429": (429, {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}),
    "error-500": (500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}),
    "error-503": (503, {"error": {"message": "The engine is currently overloaded, please try again later", "type": "server_error"}}),
}


def create_app(state: UpstreamState) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"body": body, "headers": dict(request.headers)})
        if state.api_key is not None and request.headers.get("authorization") != f"Bearer {state.api_key}":
            return JSONResponse(ERRORS["error-401"][1], 401)
        model = body.get("model", "")
        scenario = model.split("@")[0]  # "@suffix" gives one scenario several upstream names
        if scenario in ERRORS:
            status, payload = ERRORS[scenario]
            headers = {"retry-after": "7"} if status == 429 else {}
            return JSONResponse(payload, status, headers)
        if scenario == "html-500":
            return Response(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 500, media_type="text/html")
        if scenario == "empty-500":
            return Response(b"", 500)
        if scenario == "hang":
            await until_closed(request, 3600)
            state.cancelled.append(scenario)
            return Response(b"", 499)
        if scenario == "slow":
            await asyncio.sleep(float(body.get("delay", 0.3)))
        if body.get("stream"):
            return StreamingResponse(_stream(body, scenario, state), media_type="text/event-stream")
        return JSONResponse(_completion(body, scenario, state))

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _answer(body: dict[str, Any], scenario: str) -> dict[str, Any]:
    """What the model 'says': content, reasoning and tool calls for the scenario."""
    text = _last_user_text(body)
    if scenario == "tools":
        return {"content": None, "tool_calls": [{"id": "call_abc123", "name": "get_weather", "arguments": '{"city": "Paris"}'}], "finish": "tool_calls"}
    if scenario == "reasoning":
        return {"content": "The answer is 4.", "reasoning": "2 plus 2 is 4.", "finish": "stop"}
    return {"content": f"echo: {text}", "finish": "stop"}


async def until_closed(request: Request, limit: float) -> None:
    """Wait until the caller closes its connection (ASGI `http.disconnect`), at most `limit` s."""
    async with asyncio.timeout(limit):
        while (await request.receive())["type"] != "http.disconnect":
            pass


def _completion(body: dict[str, Any], scenario: str, state: UpstreamState) -> dict[str, Any]:
    a = _answer(body, scenario)
    message: dict[str, Any] = {"role": "assistant", "content": a["content"]}
    reasoning_tokens = 0
    if "reasoning" in a:
        message["reasoning_content"] = a["reasoning"]
        reasoning_tokens = len(a["reasoning"].split())
    if "tool_calls" in a:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in a["tool_calls"]
        ]
    completion = len((a["content"] or "").split()) + reasoning_tokens + (8 if "tool_calls" in a else 0)
    prompt = _prompt_tokens(body)
    out: dict[str, Any] = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": a["finish"]}],
    }
    if scenario == "overbill":
        prompt = completion = 10**9
    if scenario == "prompt-cache":
        cached, writes = _prompt_cache(body, state)
        out["usage"] = _usage(prompt, completion, cached=cached, reasoning=reasoning_tokens, writes=writes)
    elif scenario != "no-usage":
        out["usage"] = _usage(prompt, completion, cached=prompt // 2 if scenario == "cached" else 0, reasoning=reasoning_tokens)
    return out


def _frame(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


async def _stream(body: dict[str, Any], scenario: str, state: UpstreamState) -> AsyncIterator[bytes]:
    a = _answer(body, scenario)
    head = {"id": "chatcmpl-fake123", "object": "chat.completion.chunk", "created": int(time.time()), "model": body.get("model")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _frame({**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    try:
        if scenario == "silent":
            await asyncio.sleep(1.2)
        yield chunk({"role": "assistant", "content": ""})
        if scenario == "flood":
            piece = chunk({"content": "flood " * 10_000})
            for _ in range(int(body.get("flood_bytes", 2_000_000)) // 60_000):
                yield piece
            raise ConnectionAbortedError("flood")  # no finish, no usage: the gateway must estimate
        if scenario == "drip":
            for _ in range(36_000):
                yield chunk({"content": "drip "})
                await asyncio.sleep(0.1)
        reasoning_tokens = 0
        if "reasoning" in a:
            for word in a["reasoning"].split(" "):
                yield chunk({"reasoning_content": word + " "})
                reasoning_tokens += 1
        completion = reasoning_tokens
        if "tool_calls" in a:
            for i, call in enumerate(a["tool_calls"]):
                yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": ""}}]})
                args = call["arguments"]
                for j in range(0, len(args), 5):
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[j : j + 5]}}]})
            completion += 8
        else:
            words = (a["content"] or "").split(" ")
            for n, word in enumerate(words):
                if scenario == "cut" and n == 2:
                    raise ConnectionAbortedError("cut")  # uvicorn drops the connection mid-body
                yield chunk({"content": word if n == len(words) - 1 else word + " "})
                if scenario == "hang-stream":
                    await asyncio.sleep(3600)
            completion += len(words)
        yield chunk({}, a["finish"])
        include = (body.get("stream_options") or {}).get("include_usage")
        if include and scenario != "no-usage":
            prompt = _prompt_tokens(body)
            cached, writes = _prompt_cache(body, state) if scenario == "prompt-cache" else (0, 0)
            if scenario == "cached":
                cached = prompt // 2
            yield _frame({**head, "choices": [], "usage": _usage(prompt, completion, cached=cached, reasoning=reasoning_tokens, writes=writes)})
        yield b"data: [DONE]\n\n"
    except asyncio.CancelledError:
        state.cancelled.append(scenario)
        raise
