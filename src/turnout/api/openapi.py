"""`GET /openapi.json`: an OpenAPI 3.1 description of the HTTP API, built once at import.

The request bodies are the declared wire types themselves (api/*/wire.py, api/admin_wire.py),
rendered by `msgspec.json.schema_components`: what the document says a body may hold is what
the routes decode. Every error status a route can answer is listed with its dialect's envelope.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout import __version__
from turnout.api import admin_wire
from turnout.api.anthropic import wire as anthropic
from turnout.api.openai import wire as openai
from turnout.api.openapi_accounts import account_paths, account_schemas
from turnout.api.responses import wire as responses
from turnout.core.money.categories import CATEGORIES

REF = "#/components/schemas/{name}"
ERROR = {"$ref": REF.format(name="Error")}
ANTHROPIC_ERROR = {"$ref": REF.format(name="AnthropicError")}
RESPONSES_ERROR = {"$ref": REF.format(name="ResponsesError")}
# The types behind the request bodies, and the names the document has always used for them.
BODIES: dict[str, type[msgspec.Struct]] = {
    "ChatRequest": openai.ChatCompletionsBody,
    "CompletionRequest": openai.CompletionsBody,
    "EmbeddingRequest": openai.EmbeddingsBody,
    "MessagesRequest": anthropic.MessagesBody,
    "CountTokensRequest": anthropic.CountTokensBody,
    "ResponsesRequest": responses.ResponsesBody,
    "KeyCreate": admin_wire.KeyCreateBody,
    "KeyUpdate": admin_wire.KeyUpdateBody,
    "CreditEntry": admin_wire.CreditsBody,
}
# Answers every authenticated route may give, and those of a route that reads a body.
AUTH_ERRORS = {401: "Missing or invalid key", 429: "Rate limited"}
BODY_ERRORS = {400: "Bad request: the message names the parameter (metadata.param)",
               413: "Body too large", 415: "Not a JSON body"}
INFERENCE_ERRORS = {402: "Key or account over its limit", 404: "Unknown model or no endpoint",
                    408: "Request timed out", 502: "Provider error", 503: "No provider available"}


def op(summary: str, *, body: str | None = None, auth: bool = True, params: list[dict[str, Any]] | None = None,
       stream: bool = False, errors: dict[int, str] | None = None, error: dict[str, Any] = ERROR,
       ok: int = 200) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    if stream:
        answer["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    statuses = {**(AUTH_ERRORS if auth else {}), **(BODY_ERRORS if body else {}), **(errors or {})}
    if params and not body:
        statuses.setdefault(400, "Bad query parameter")
    out: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): answer,
            **{str(c): {"description": d, "content": {"application/json": {"schema": error}}}
               for c, d in sorted(statuses.items())},
        },
    }
    if auth:
        out["security"] = [{"bearer": []}]
    if body:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(name=body)}}}}
    if params:
        out["parameters"] = params
    return out


def _path(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def _query(**kinds: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": t}} for n, t in kinds.items()]


def inference_paths() -> dict[str, Any]:
    anthropic_auth: list[dict[str, list[str]]] = [{"bearer": []}, {"x-api-key": []}]
    messages = op("Create a message (Anthropic Messages dialect)", body="MessagesRequest", stream=True,
                  errors=INFERENCE_ERRORS, error=ANTHROPIC_ERROR)
    count = op("Estimate a message's input tokens (Anthropic dialect)", body="CountTokensRequest",
               errors={404: "Unknown model"}, error=ANTHROPIC_ERROR)
    messages["security"] = count["security"] = anthropic_auth
    response_id = _path("response_id")
    return {
        "/api/v1/chat/completions": {"post": op("Create a chat completion", body="ChatRequest", stream=True,
                                                errors=INFERENCE_ERRORS)},
        "/api/v1/completions": {"post": op("Create a text completion (legacy prompt API, through chat)",
                                           body="CompletionRequest", stream=True, errors=INFERENCE_ERRORS)},
        "/api/v1/embeddings": {"post": op("Create embeddings with a catalog model of kind embedding",
                                          body="EmbeddingRequest", errors=INFERENCE_ERRORS)},
        "/api/v1/messages": {"post": messages},
        "/api/v1/messages/count_tokens": {"post": count},
        "/api/v1/responses": {"post": op("Create a response (OpenAI Responses dialect, stateless subset)",
                                         body="ResponsesRequest", stream=True, errors=INFERENCE_ERRORS,
                                         error=RESPONSES_ERROR)},
        "/api/v1/responses/{response_id}": {
            "get": op("A stored response (kept 1 hour, see docs/dialects.md)", params=response_id,
                      errors={404: "No such response"}, error=RESPONSES_ERROR),
            "delete": op("Forget a stored response", params=response_id, errors={404: "No such response"},
                         error=RESPONSES_ERROR),
        },
    }


def catalog_paths() -> dict[str, Any]:
    listing = _query(all="boolean", supported_parameters="string", output_modalities="string", order="string",
                     offset="integer", limit="integer")
    return {
        "/api/v1/models": {"get": op("List the catalog's models (links.details: absolute URLs)", auth=False, params=[
            *listing, {"name": "category", "in": "query", "required": False,
                       "description": "the models apps of this X-OpenRouter-Categories category used, most used first",
                       "schema": {"type": "string", "enum": list(CATEGORIES)}}])},
        "/api/v1/models/count": {"get": op("Count the catalog's models", auth=False, params=listing)},
        "/api/v1/models/user": {"get": op("The models the calling key may use", params=listing)},
        "/api/v1/embeddings/models": {"get": op("List the catalog's embedding models", auth=False, params=listing)},
        "/api/v1/endpoints/zdr": {"get": op("Endpoints with zero data retention", auth=False)},
        "/api/v1/models/{author}/{slug}/endpoints": {"get": op(
            "List a model's endpoints", auth=False, params=_path("author", "slug"), errors={404: "Unknown model"})},
        "/api/v1/openapi.json": {"get": op("This document", auth=False)},
    }


def preset_paths() -> dict[str, Any]:
    slug = _path("slug")
    paging = _query(offset="integer", limit="integer")
    missing = {404: "No such preset"}
    created = {"/api/v1/presets/{slug}/" + route: {"post": op(
        f"Save a new version of a preset from a {name} body", body=body, params=slug + _query(name="string"),
        errors={403: "Not allowed"})} for route, name, body in (
            ("chat/completions", "chat completions", "ChatRequest"), ("messages", "Messages", "MessagesRequest"),
            ("responses", "Responses", "ResponsesRequest"))}
    return {
        "/api/v1/presets": {"get": op("List presets", params=paging)},
        "/api/v1/presets/{slug}": {"get": op("A preset's designated version", params=slug, errors=missing),
                                   "delete": op("Delete a preset", params=slug, errors=missing)},
        "/api/v1/presets/{slug}/versions": {"get": op("A preset's versions", params=slug + paging, errors=missing)},
        "/api/v1/presets/{slug}/versions/{version}": {"get": op("One version of a preset", params=_path("slug", "version"),
                                                                errors=missing)},
        **created,
    }


def build_document() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components(list(BODIES.values()), ref_template=REF)
    schemas.update({name: {"$ref": REF.format(name=kind.__name__)} for name, kind in BODIES.items()})
    message = {"type": "string"}
    schemas.update({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "integer"}, "message": message, "metadata": {"type": ["object", "null"]}}}}},
        "AnthropicError": {"type": "object", "required": ["type", "error"], "properties": {
            "type": {"const": "error"}, "error": {"type": "object", "required": ["type", "message"], "properties": {
                "type": {"type": "string"}, "message": message}}}},
        "ResponsesError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message"], "properties": {
                "type": {"type": "string"}, "message": message, "code": {"type": ["integer", "string", "null"]},
                "param": {"type": ["string", "null"]}, "metadata": {"type": ["object", "null"]}}}}},
    })
    schemas.update(account_schemas())
    return {
        "openapi": "3.1.0",
        "info": {"title": "turnout", "version": __version__,
                 "description": "Self-hosted LLM gateway; every path is also served under /v1."},
        "paths": {**inference_paths(), **catalog_paths(), **account_paths(op), **preset_paths()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": schemas,
        },
    }


_DOCUMENT = orjson.dumps(build_document())


async def openapi(request: Request) -> Response:
    return Response(_DOCUMENT, media_type="application/json")
