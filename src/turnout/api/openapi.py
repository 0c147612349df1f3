"""`GET /openapi.json`: an OpenAPI 3.1 description of the HTTP API, built once."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout import __version__
from turnout.api.openapi_accounts import account_paths, account_schemas
from turnout.core.categories import CATEGORIES

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, *, body: str | None = None, auth: bool = True, params: list[dict[str, Any]] | None = None,
        stream: bool = False) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    if stream:
        ok["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": ok,
            **{str(c): {"description": d, "content": {"application/json": {"schema": ERROR}}}
               for c, d in ((400, "Bad request or unknown model"), (401, "Missing or invalid key"),
                            (402, "Key over its limit"), (404, "Not found"), (408, "Upstream timeout"),
                            (429, "Rate limited"), (502, "Provider error"), (503, "No provider available"))},
        },
    }
    if auth:
        op["security"] = [{"bearer": []}]
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        op["parameters"] = params
    return op


def build_document() -> dict[str, Any]:
    num = {"type": "number"}
    integer = {"type": "integer"}
    chat_request = {
        "type": "object",
        "required": ["messages"],
        "additionalProperties": True,
        "properties": {
            "model": {"type": "string"}, "models": {"type": "array", "items": {"type": "string"}},
            "messages": {"type": "array", "items": {"type": "object"}},
            "stream": {"type": "boolean"}, "max_tokens": integer, "max_completion_tokens": integer,
            "temperature": num, "top_p": num, "top_k": integer, "min_p": num, "top_a": num,
            "frequency_penalty": num, "presence_penalty": num, "repetition_penalty": num, "seed": integer,
            "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "logit_bias": {"type": "object"}, "logprobs": {"type": "boolean"}, "top_logprobs": integer,
            "response_format": {"type": "object"}, "structured_outputs": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}}, "tool_choice": {},
            "parallel_tool_calls": {"type": "boolean"},
            "reasoning": {"type": "object", "properties": {
                "effort": {"type": "string", "enum": ["none", "minimal", "low", "medium", "high", "xhigh", "max"]},
                "max_tokens": integer, "exclude": {"type": "boolean"}, "enabled": {"type": "boolean"}}},
            "include_reasoning": {"type": "boolean"}, "usage": {"type": "object"}, "user": {"type": "string"},
            "stream_options": {"type": "object"}, "provider": {"type": "object"},
            "session_id": {"type": "string", "maxLength": 256,
                           "description": "the conversation, for prompt-cache sticky routing (also x-session-id)"},
        },
    }
    author_slug = [
        {"name": "author", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    response_id = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    # The Anthropic dialect: its own error envelope, and the key may come as x-api-key.
    messages = _op("Create a message (Anthropic Messages dialect)", body="MessagesRequest", stream=True)
    anthropic_error = {"$ref": "#/components/schemas/AnthropicError"}
    for response in messages["responses"].values():
        if "application/json" in response.get("content", {}) and response is not messages["responses"]["200"]:
            response["content"]["application/json"]["schema"] = anthropic_error
    messages["security"] = [{"bearer": []}, {"x-api-key": []}]
    obj = {"type": "object", "additionalProperties": True}
    dialect_schemas = {
        "MessagesRequest": {**obj, "required": ["model", "max_tokens", "messages"], "properties": {
            "model": {"type": "string"}, "max_tokens": integer, "messages": {"type": "array", "items": {"type": "object"}},
            "system": {}, "stream": {"type": "boolean"}, "tools": {"type": "array"}, "thinking": {"type": "object"}}},
        "ResponsesRequest": {**obj, "required": ["model"], "properties": {
            "model": {"type": "string"}, "input": {}, "instructions": {"type": "string"},
            "max_output_tokens": integer, "stream": {"type": "boolean"}, "tools": {"type": "array"}}},
        "CompletionRequest": {**obj, "required": ["model", "prompt"], "properties": {
            "model": {"type": "string"}, "prompt": {}, "max_tokens": integer, "stream": {"type": "boolean"}}},
        "EmbeddingRequest": {**obj, "required": ["model", "input"], "properties": {
            "model": {"type": "string"}, "input": {}, "dimensions": integer, "encoding_format": {"type": "string"}}},
        "AnthropicError": {"type": "object", "properties": {"type": {"const": "error"}, "error": {
            "type": "object", "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}},
    }
    paths = {
        "/api/v1/chat/completions": {"post": _op("Create a chat completion", body="ChatRequest", stream=True)},
        "/api/v1/models": {"get": _op("List the catalog's models (links.details: absolute URLs)", auth=False, params=[
            {"name": "category", "in": "query", "required": False,
             "description": "the models apps of this X-OpenRouter-Categories category used, most used first",
             "schema": {"type": "string", "enum": list(CATEGORIES)}}])},
        "/api/v1/models/{author}/{slug}/endpoints": {"get": _op("List a model's endpoints", auth=False, params=author_slug)},
        "/api/v1/generation": {"get": _op("One request's generation record", params=[
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}}])},
        "/api/v1/key": {"get": _op("The calling key's usage and limit")},
        "/api/v1/messages": {"post": messages},
        "/api/v1/responses": {"post": _op("Create a response (OpenAI Responses dialect, stateless subset)",
                                          body="ResponsesRequest", stream=True)},
        "/api/v1/completions": {"post": _op("Create a text completion (legacy prompt API, through chat)",
                                            body="CompletionRequest", stream=True)},
        "/api/v1/embeddings": {"post": _op("Create embeddings with a catalog model of kind embedding",
                                           body="EmbeddingRequest")},
        "/api/v1/messages/count_tokens": {"post": {**_op("Estimate a message's input tokens (Anthropic dialect)",
                                                         body="MessagesRequest"), "security": messages["security"]}},
        "/api/v1/responses/{response_id}": {
            "get": _op("A stored response (kept 1 hour, see docs/dialects.md)", params=response_id),
            "delete": _op("Forget a stored response", params=response_id),
        },
    }
    paths.update(account_paths(_op))
    return {
        "openapi": "3.1.0",
        "info": {"title": "turnout", "version": __version__,
                 "description": "Self-hosted LLM gateway; every path is also served under /v1."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "ChatRequest": chat_request,
                **account_schemas(),
                **dialect_schemas,
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": integer, "message": {"type": "string"}, "metadata": {"type": ["object", "null"]}}}},
                },
            },
        },
    }


_DOCUMENT = orjson.dumps(build_document())


async def openapi(request: Request) -> Response:
    return Response(_DOCUMENT, media_type="application/json")
