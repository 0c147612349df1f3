"""A fake Gemini upstream on loopback: `/v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, in the Generative Language API's wire format.

Format facts (ai.google.dev/api/generate-content, /gemini-api/docs/thinking,
/gemini-api/docs/troubleshooting): a response has `candidates[].content.parts` (text; `thought:
true` text when `thinkingConfig.includeThoughts`; `functionCall {name, args}` with a
`thoughtSignature`), `finishReason` (STOP, MAX_TOKENS, ...) and `usageMetadata`
(promptTokenCount including cachedContentTokenCount, candidatesTokenCount, thoughtsTokenCount).
The stream is `data: <response>` events separated by CRLF CRLF, usage cumulative, no [DONE].
Errors are `{"error": {"code", "message", "status", "details"}}`: 400 INVALID_ARGUMENT, 400 with
reason API_KEY_INVALID for a bad key, 403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED with a
`RetryInfo.retryDelay`, 500 INTERNAL, 503 UNAVAILABLE when the model is overloaded.

Every response and stream chunk is built with the official SDK's own model
(google.genai.types.GenerateContentResponse) through tests/fakes/sdk_shapes.py, so the fake cannot
send a field or finish reason the SDK does not declare.

The model name picks the scenario (echo, tools, reasoning, structured, cached, malformed (a
MALFORMED_FUNCTION_CALL finish), error-400, error-401, error-429, error-500, overloaded, html-500,
empty-500, cut); requests are kept in `state.requests` (path, query, headers, body).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from google.genai.types import GenerateContentResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.sdk_shapes import shape

API_KEY = "AIza-upstream"
THOUGHT = "The user wants the weather in Paris, so I call get_weather."
SIGNATURE = "CiQB0e2Kb7rQ1eGSr4mjRQ3zs0Xh5KkFTYxUMtL6yv8aDv9R"
ARGS = {"city": "Paris", "unit": "celsius"}


def _error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return JSONResponse({"error": err}, code)


ERRORS: dict[str, tuple[int, str, str, list[dict[str, Any]]]] = {
    "error-400": (400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified", []),
    "error-401": (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", []),
    "error-429": (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generate_content_free_tier_requests"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
    ]),
    "error-500": (500, "INTERNAL", "An internal error has occurred.", []),
    "overloaded": (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", []),
}


@dataclass
class GeminiState:
    requests: list[dict[str, Any]] = field(default_factory=list)


def _last_user_text(body: dict[str, Any]) -> str:
    for c in reversed(body.get("contents") or []):
        if c.get("role") == "user":
            texts = [p["text"] for p in c.get("parts") or [] if "text" in p]
            if texts:
                return " ".join(texts)
    return ""


def _parts(body: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    parts: list[dict[str, Any]] = []
    if scenario == "malformed":
        return parts
    if scenario in ("reasoning", "tools") and thinking.get("includeThoughts") and thinking.get("thinkingBudget") != 0:
        parts.append({"text": THOUGHT, "thought": True})
    if scenario == "tools":
        parts.append({"functionCall": {"name": "get_weather", "args": ARGS}, "thoughtSignature": SIGNATURE})
    elif scenario == "structured":
        parts.append({"text": '{"city": "Paris", "temperature": 21}'})
    else:
        parts.append({"text": f"echo: {_last_user_text(body)}"})
    return parts


def _usage(body: dict[str, Any], scenario: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    thoughts = 0 if thinking.get("thinkingBudget") == 0 or scenario != "reasoning" else 30
    prompt, candidates = (3000, 40) if scenario == "cached" else (18, 9)
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                             "totalTokenCount": prompt + candidates + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if scenario == "cached":
        usage["cachedContentTokenCount"] = 2048
    return usage


def create_app(state: GeminiState) -> Starlette:
    async def models(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"path": request.url.path, "query": request.url.query, "headers": dict(request.headers), "body": body})
        model, _, method = request.path_params["rest"].partition(":")
        if request.headers.get("x-goog-api-key") != API_KEY:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                          [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])
        if model in ERRORS:
            return _error(*ERRORS[model])
        if model == "html-500":
            return Response(b"<html><head><title>Error 500</title></head><body>Server Error</body></html>", 500, media_type="text/html")
        if model == "empty-500":
            return Response(b"", 500)
        parts = _parts(body, model)
        finish = "MALFORMED_FUNCTION_CALL" if model == "malformed" else "STOP"
        if method == "streamGenerateContent":
            return StreamingResponse(_stream(body, model, parts), media_type="text/event-stream")
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
        if model == "malformed":
            candidate["finishMessage"] = "Malformed function call: get_weather(city=Paris"
        return JSONResponse(shape(GenerateContentResponse, {
            "candidates": [candidate],
            "usageMetadata": _usage(body, model, parts),
            "modelVersion": model,
            "responseId": "mIQaaf2yA8yCxN8P3u3XyQc",
        }))

    return Starlette(routes=[Route("/v1beta/models/{rest:path}", models, methods=["POST"])])


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(shape(GenerateContentResponse, obj)).encode() + b"\r\n\r\n"


async def _stream(body: dict[str, Any], scenario: str, parts: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    usage = _usage(body, scenario, parts)
    head = {"modelVersion": scenario, "responseId": "mIQaaf2yA8yCxN8P3u3XyQc"}
    if scenario == "malformed":
        candidate = {"content": {"parts": [], "role": "model"}, "finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}
        yield _frame({"candidates": [candidate], "usageMetadata": usage, **head})
        return
    pieces: list[dict[str, Any]] = []
    for part in parts:
        if "text" in part:
            words = part["text"].split(" ")
            pieces += [{**part, "text": w if n == len(words) - 1 else w + " "} for n, w in enumerate(words)]
        else:
            pieces.append(part)  # function calls come whole
    for n, piece in enumerate(pieces):
        if scenario == "cut" and n == 2:
            raise ConnectionAbortedError("cut")
        last = n == len(pieces) - 1
        candidate: dict[str, Any] = {"content": {"parts": [piece], "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        so_far = {**usage, "candidatesTokenCount": usage["candidatesTokenCount"] if last else n + 1}
        yield _frame({"candidates": [candidate], "usageMetadata": so_far, **head})
