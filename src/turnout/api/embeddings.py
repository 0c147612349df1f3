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
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.embeddings_dispatch import EmbeddingDispatcher
from turnout.api.openai.encode import cost_number
from turnout.api.openai.wire import EMBEDDINGS_DECLARED, EmbeddingsBody
from turnout.api.pipeline import open_inference
from turnout.api.request import JSONAnswer
from turnout.api.wire import convert
from turnout.model.embeddings import EmbeddingRequest
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.model.result import Usage

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


def encode_vector(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def embeddings(request: Request) -> Response:
    opened = await open_inference(request, lambda body, _: to_embedding_request(body))
    embedding, encoding = opened.parsed
    ctx = opened.context(DIALECT, embedding.model, streamed=False, provider=embedding.provider)
    dispatcher = EmbeddingDispatcher.of(request.app.state, opened.rt)
    result = await opened.rt.gateway.embed(embedding, ctx, dispatcher.embed)
    usage = result.usage or Usage()
    if ctx.endpoint is None:
        raise GatewayError(ErrorKind.GATEWAY_INTERNAL, "the embeddings answer has no endpoint")
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
    return JSONAnswer(orjson.dumps(payload), {"x-generation-id": ctx.id})
