"""The OpenAI embeddings dialect outbound (`POST {base_url}/embeddings`), as a pure translator.

Wire reference: https://platform.openai.com/docs/api-reference/embeddings/create. Vectors are
always asked for as floats (`encoding_format: "float"`) so the gateway holds canonical vectors
and encodes base64 itself when the caller wants it. Any OpenAI-compatible server (vLLM, TEI,
Ollama, OpenRouter, another turnout) answers the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.model.result import Usage
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.errors import upstream_error


def to_openai_embeddings_body(request: EmbeddingRequest, target: Target) -> dict[str, Any]:
    body: dict[str, Any] = dict(request.extra)
    body["model"] = target.upstream_model
    body["input"] = request.inputs
    body["encoding_format"] = "float"
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def from_openai_embeddings(raw: Any) -> EmbeddingResult:
    """Vectors in input order (sorted by `index`, which servers may return out of order)."""
    data = raw["data"]
    if not isinstance(data, list):
        raise TypeError("data is not an array")
    ordered = sorted(data, key=lambda d: int(d.get("index", 0)))
    vectors = []
    for d in ordered:
        vector = d["embedding"]
        if not isinstance(vector, list):
            raise TypeError("embedding is not a float array")
        vectors.append([float(x) for x in vector])
    usage_raw = raw.get("usage")
    usage = None
    if isinstance(usage_raw, dict):
        usage = Usage(prompt_tokens=int(usage_raw.get("prompt_tokens") or usage_raw.get("total_tokens") or 0))
    return EmbeddingResult(vectors, usage, raw.get("model"))


class OpenAIEmbeddingsAdapter:
    dialect: ClassVar[str] = "openai"

    def build_embeddings_request(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest:
        headers = {"content-type": "application/json", **target.extra_headers}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        body = orjson.dumps(to_openai_embeddings_body(request, target))
        return UpstreamRequest("POST", target.base_url.rstrip("/") + "/embeddings", headers, body, False)

    def parse_embeddings_response(self, body: bytes, target: Target) -> EmbeddingResult:
        try:
            return from_openai_embeddings(orjson.loads(body))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpstreamError(
                ErrorKind.PROVIDER_BAD_RESPONSE,
                f"{target.provider_name} returned an invalid embeddings response ({type(exc).__name__})",
                provider=target.provider_name,
                failure=FailureClass.TRANSIENT,
            ) from None

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
        return upstream_error(status, headers, body, target.provider_name)
