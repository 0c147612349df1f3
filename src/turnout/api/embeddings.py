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
from turnout.api.body import read_json
from turnout.api.embeddings_dispatch import EmbeddingDispatcher
from turnout.api.openai.encode import cost_number
from turnout.api.openai.wire import EMBEDDINGS_DECLARED, EmbeddingsBody
from turnout.api.wire import convert
from turnout.core.context import RequestContext
from turnout.core.estimate import estimate_embedding
from turnout.model.chat import ChatRequest, Message
from turnout.model.embeddings import EmbeddingRequest
from turnout.model.errors import invalid
from turnout.model.result import Usage
from turnout.runtime import Runtime

DIALECT = "embeddings"


def to_embedding_request(body: Any) -> tuple[EmbeddingRequest, str]:
    """The canonical request and the encoding the caller wants ("float" or "base64")."""
    w = convert(body, EmbeddingsBody)
    raw = w.input
    inputs: Any
    if isinstance(raw, str):
        inputs = [raw]
    elif all(isinstance(i, str) for i in raw):
        inputs = raw
    elif all(isinstance(i, int) for i in raw):
        inputs = [raw]
    elif all(isinstance(i, list) for i in raw):
        inputs = raw
    else:
        raise invalid("input", "'input' must be a string, an array of strings, or token arrays, not a mix")
    if any(isinstance(i, str) and not i for i in inputs):
        raise invalid("input", "'input' must not contain empty strings")
    request = EmbeddingRequest(
        model=w.model,
        inputs=inputs,
        dimensions=w.dimensions,
        user=w.user,
        provider=w.provider,
        extra={k: v for k, v in body.items() if k not in EMBEDDINGS_DECLARED},
    )
    return request, w.encoding_format or "float"


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
    body = await read_json(request, rt.settings.max_body_bytes)
    key = await authenticate(request.headers, rt.keys)
    embedding, encoding = await rt.limiter.parsing(key, lambda: to_embedding_request(body))
    ctx = RequestContext(
        accountant=rt.accountant,
        key=key,
        dialect_in=DIALECT,
        model_id=embedding.model,
        streamed=False,
        app_title=request.headers.get("x-title") or request.headers.get("x-openrouter-title"),
        app_referer=request.headers.get("http-referer") or request.headers.get("referer"),
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
