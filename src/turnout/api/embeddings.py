"""`POST /embeddings`: OpenAI's embeddings API, routed to the catalog's `kind: embedding` models.

Wire reference: https://platform.openai.com/docs/api-reference/embeddings/create. The request is
authenticated and recorded like a chat request (dialect_in "embeddings", usage = prompt tokens,
cost from the endpoint's prompt price); errors use the OpenAI envelope. Each endpoint is tried in
order, falling back on transient failures as chat does. An endpoint is served either by an
in-process provider implementing `Embedder` (the built-in local model) or by an HTTP dialect with
an `EmbeddingAdapter` (api/embeddings_dispatch.py). Vectors are kept as floats and encoded
as base64 little-endian float32 here when the caller asks (the `openai` SDK does by default).
"""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate
from turnout.api.embeddings_dispatch import EmbeddingDispatcher
from turnout.api.openai.encode import cost_number
from turnout.api.openai.protocol import int64, mapping, string
from turnout.core.context import RequestContext
from turnout.core.estimate import estimate_embedding
from turnout.model.chat import ChatRequest, Message
from turnout.model.embeddings import EmbeddingRequest
from turnout.model.errors import invalid
from turnout.model.result import Usage
from turnout.runtime import Runtime

DIALECT = "embeddings"
MAX_INPUTS = 2048  # OpenAI's documented limit on inputs per request
_MODELLED = frozenset({"model", "input", "encoding_format", "dimensions", "user", "provider"})


def to_embedding_request(body: Any) -> tuple[EmbeddingRequest, str]:
    """The canonical request and the encoding the caller wants ("float" or "base64")."""
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    model = string(body.get("model"), "model", required=True) or ""
    raw = body.get("input")
    inputs: Any
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(i, str) for i in raw):
        inputs = raw
    elif isinstance(raw, list) and raw and all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(
        isinstance(i, list) and i and all(isinstance(t, int) and not isinstance(t, bool) for t in i) for i in raw
    ):
        inputs = raw
    else:
        raise invalid("input", "'input' must be a string, an array of strings, or token arrays, and not empty")
    if len(inputs) > MAX_INPUTS:
        raise invalid("input", f"'input' may hold at most {MAX_INPUTS} items")
    if any(isinstance(i, str) and not i for i in inputs):
        raise invalid("input", "'input' must not contain empty strings")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid("encoding_format", "'encoding_format' must be float or base64")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not int64(dimensions) or dimensions < 1):
        raise invalid("dimensions", "'dimensions' must be a positive integer")
    request = EmbeddingRequest(
        model=model,
        inputs=inputs,
        dimensions=dimensions,
        user=string(body.get("user"), "user"),
        provider=mapping(body.get("provider"), "provider"),
        extra={k: v for k, v in body.items() if k not in _MODELLED},
    )
    return request, encoding


def routing_stand_in(request: EmbeddingRequest) -> ChatRequest:
    """What the router needs to pick endpoints: the model and the provider preferences.

    No text: input length is the provider's to judge (OpenAI refuses inputs past its limit, the
    local MiniLM truncates at 256 tokens), not a chat context-length check's.
    """
    return ChatRequest(model=request.model, messages=[Message(role="user", content="")], provider=request.provider)


def encode_vector(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def embeddings(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = await authenticate(request.headers, rt.keys)  # before the body: a keyless request costs no read
    body = await rt.bodies.json(request, rt.settings.max_body_bytes)
    embedding, encoding = await rt.limiter.parsing(key, lambda: to_embedding_request(body))
    ctx = RequestContext(
        accountant=rt.accountant,
        key=key,
        dialect_in=DIALECT,
        model_id=embedding.model,
        streamed=False,
        app_title=request.headers.get("x-title") or request.headers.get("x-openrouter-title"),
        app_referer=request.headers.get("http-referer") or request.headers.get("referer"),
        app_categories=request.headers.get("x-openrouter-categories"),
    )
    dispatcher = EmbeddingDispatcher.of(request.app.state, rt)
    async with rt.gateway.upstream_phase(ctx):  # the request's deadline; failures recorded
        await ctx.rate_limit()  # before resolving: a request for an unknown model counts too
        stand_in = routing_stand_in(embedding)
        route = rt.gateway.router.resolve(stand_in, kind="embedding")
        ctx.prompt = estimate_embedding(embedding)
        await ctx.admit(stand_in, route.endpoints)  # rate limit (429), then hold the worst case (402)
        result, ctx.endpoint = await dispatcher.embed(embedding, route.endpoints, ctx.attempts, route.reason)
    ctx.first_token_at = time.perf_counter()
    usage = result.usage or Usage(prompt_tokens=ctx.prompt_estimate, estimated=True)
    ctx.price(usage)
    ctx.finish_reason = "stop"
    ctx.record("ok", usage)
    assert ctx.endpoint is not None
    payload = {
        "object": "list",
        "id": ctx.id,
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(v, encoding)} for i, v in enumerate(result.vectors)
        ],
        "model": ctx.model_id,
        "provider": ctx.endpoint.provider.name,
        "usage": {  # OpenRouter's embeddings usage: all of the cost is on the prompt side
            "prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens, "cost": cost_number(ctx.cost),
            "is_byok": False,
            "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": cost_number(ctx.cost),
                             "upstream_inference_completions_cost": 0},
        },
    }
    return Response(orjson.dumps(payload), media_type="application/json", headers={"x-generation-id": ctx.id})
