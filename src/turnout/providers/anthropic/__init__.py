"""The Anthropic Messages dialect: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.

`request.py` builds the body from a `ChatRequest`; `response.py` reads messages, stream events
and error bodies back. Catalog options: `max_tokens` (the default when the caller sets none,
since Anthropic requires it) and `beta` (sent as `anthropic-beta`).
Reference: https://docs.anthropic.com/en/api/messages
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import orjson

from turnout.model.chat import ChatRequest
from turnout.model.errors import UpstreamError
from turnout.model.result import ChatResult
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.openai import bad_response
from turnout.providers.rules import Adjustments

from .request import API_VERSION, DEFAULT_MAX_TOKENS, to_anthropic_body
from .response import AnthropicStreamDecoder, from_anthropic_error, from_anthropic_message

NAME = "anthropic"

__all__ = ["API_VERSION", "NAME", "AnthropicAdapter", "AnthropicStreamDecoder"]


class AnthropicAdapter:
    dialect: ClassVar[str] = NAME

    def build_request(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        default_max = int(target.options.get("max_tokens") or DEFAULT_MAX_TOKENS)
        notes = Adjustments.of(request, target.upstream_model)
        body = to_anthropic_body(request, target.upstream_model, default_max, target.rules, notes)
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION, **target.extra_headers}
        if target.api_key:
            headers["x-api-key"] = target.api_key
        beta = target.options.get("beta")
        if beta:
            headers["anthropic-beta"] = str(beta)
        url = target.base_url.rstrip("/") + "/v1/messages"
        return UpstreamRequest("POST", url, headers, orjson.dumps(body), request.stream, tuple(notes.notes))

    def parse_response(self, body: bytes, target: Target) -> ChatResult:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_response(target, "the body is not JSON") from None
        return from_anthropic_message(raw, target)

    def open_stream(self, request: ChatRequest, target: Target) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(target)

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
        return from_anthropic_error(status, headers, body, target)
