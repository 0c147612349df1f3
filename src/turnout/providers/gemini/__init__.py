"""The Google Gemini dialect: `{base}/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, the key in `x-goog-api-key` (base e.g.
`https://generativelanguage.googleapis.com/v1beta`).

`request.py` builds the body from a `ChatRequest`; `response.py` reads responses, stream chunks
and error bodies back. Reference: https://ai.google.dev/api/generate-content
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

import orjson

from turnout.model.chat import ChatRequest
from turnout.model.errors import UpstreamError
from turnout.model.result import ChatResult
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.openai import bad_response
from turnout.providers.rules import Adjustments

from .request import to_gemini_body
from .response import GeminiStreamDecoder, from_gemini_error, from_gemini_response

NAME = "gemini"

__all__ = ["NAME", "GeminiAdapter", "GeminiStreamDecoder"]


class GeminiAdapter:
    dialect: ClassVar[str] = NAME

    def build_request(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        model = quote(target.upstream_model.removeprefix("models/"), safe="-._~")
        base = f"{target.base_url.rstrip('/')}/models/{model}"
        url = f"{base}:streamGenerateContent?alt=sse" if request.stream else f"{base}:generateContent"
        headers = {"content-type": "application/json", **target.extra_headers}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        notes = Adjustments.of(request, target.upstream_model)
        body = to_gemini_body(request, target.rules, notes, target.upstream_model)
        return UpstreamRequest("POST", url, headers, orjson.dumps(body), request.stream, tuple(notes.notes))

    def parse_response(self, body: bytes, target: Target) -> ChatResult:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_response(target, "the body is not JSON") from None
        return from_gemini_response(raw, target)

    def open_stream(self, request: ChatRequest, target: Target) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(target)

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
        return from_gemini_error(status, headers, body, target)
