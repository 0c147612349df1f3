"""Canonical results and stream events -> OpenAI/OpenRouter chat-completion JSON and chunks.

The shapes follow what OpenRouter's own strict clients validate (the TypeScript SDK's zod schemas,
the Python SDK's pydantic models): `usage` carries `cost`, `is_byok`, both token-details objects and
a whole `cost_details` (`upstream_inference_prompt_cost` and `..._completions_cost` are required
numbers); a chunk's `system_fingerprint` is a string or absent, never null; a mid-stream error's
`metadata`, when present, carries an `error_type` from OpenRouter's vocabulary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from turnout.api.openai.errors import error_type
from turnout.api.sse import DONE, KEEPALIVE, data_frame
from turnout.core.catalog.pricing import ZERO, money
from turnout.core.context import RequestContext
from turnout.model.chat import ChatRequest
from turnout.model.errors import ErrorKind, GatewayError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import (
    Finish,
    Heartbeat,
    ReasoningDelta,
    StreamEvent,
    StreamFailure,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)


def cost_number(cost: Decimal) -> orjson.Fragment:
    """The exact decimal as a JSON number: no float rounding on the way out."""
    return orjson.Fragment(money(cost).encode())


def usage_json(usage: Usage, cost: Decimal, completions_cost: Decimal = ZERO,
               upstream: Decimal | None = None) -> dict[str, Any]:
    """`completions_cost` is the part of `cost` the completion tokens make (see `cost_split`);
    `upstream`, on a request served on the account's own key (BYOK), what the provider bills for it
    (`cost` is then turnout's fee, and the split is of the upstream cost)."""
    billed = cost if upstream is None else upstream
    completions_cost = min(completions_cost, billed)
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost": cost_number(cost),
        "is_byok": upstream is not None,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "audio_tokens": 0,
            "video_tokens": 0,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens, "image_tokens": 0},
        "cost_details": {
            "upstream_inference_cost": None if upstream is None else cost_number(upstream),  # what the provider billed a BYOK key
            "upstream_inference_prompt_cost": cost_number(billed - completions_cost),
            "upstream_inference_completions_cost": cost_number(completions_cost),
        },
        **({"server_tool_use_details": {"web_search_requests": usage.web_search_requests}}
           if usage.web_search_requests else {}),
    }


def completions_cost(ctx: RequestContext, usage: Usage) -> Decimal:
    """What the completion tokens cost at the serving endpoint's prices; the rest of a request's
    cost (prompt, cache, per-request and per-image fees) is its prompt side."""
    return ctx.endpoint.pricing.completions_cost(usage) if ctx.endpoint is not None else ZERO


def error_chunk_body(err: GatewayError) -> dict[str, Any]:
    """A mid-stream error: OpenRouter's strict clients want `metadata.error_type` when there is metadata."""
    return {"error": {"code": err.status, "message": err.message,
                      "metadata": {"error_type": error_type(err), **(err.metadata or {})}}}


def hides_reasoning(request: ChatRequest) -> bool:
    return request.reasoning is not None and request.reasoning.exclude


def completion_json(request: ChatRequest, ctx: RequestContext, result: ChatResult, usage: Usage) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content, "refusal": result.refusal}
    if not hides_reasoning(request):
        message["reasoning"] = result.reasoning
        if result.reasoning_details is not None:
            message["reasoning_details"] = result.reasoning_details
    if result.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in result.tool_calls
        ]
    if result.annotations:
        message["annotations"] = result.annotations
    if ctx.endpoint is None:  # set by the gateway before any answer exists
        raise GatewayError(ErrorKind.GATEWAY_INTERNAL, "an answer without an endpoint")
    return {
        "id": ctx.id,
        "provider": ctx.endpoint.provider.name,
        "model": ctx.model_id,
        "object": "chat.completion",
        "created": ctx.created,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "logprobs": result.logprobs,
                "finish_reason": result.finish_reason,
                "native_finish_reason": result.native_finish_reason,
                "message": message,
            }
        ],
        "usage": usage_json(usage, ctx.cost, completions_cost(ctx, usage), ctx.upstream_cost),
    }


class ChunkEncoder:
    """One stream's chunks; the id, model and provider are fixed for the whole stream."""

    def __init__(self, request: ChatRequest, ctx: RequestContext) -> None:
        self._head = {
            "id": ctx.id,
            "provider": ctx.endpoint.provider.name if ctx.endpoint is not None else None,
            "model": ctx.model_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
        }
        self._ctx = ctx
        self._hide_reasoning = hides_reasoning(request)
        self._usage: dict[str, Any] | None = None
        self._run = ctx.plugins

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, native: str | None = None) -> bytes:
        return data_frame(
            {
                **self._head,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": native, "logprobs": None}
                ],
            }
        )

    def encode(self, event: StreamEvent) -> bytes:
        if self._head["provider"] is None and self._ctx.endpoint is not None:  # a stream opened before its answer
            self._head["provider"] = self._ctx.endpoint.provider.name
        match event:
            case TextDelta(text=text):
                return self._chunk({"role": "assistant", "content": text})
            case ReasoningDelta(text=text, details=details):
                if self._hide_reasoning:
                    return b""
                delta: dict[str, Any] = {"role": "assistant", "content": "", "reasoning": text}
                if details is not None:
                    delta["reasoning_details"] = details
                return self._chunk(delta)
            case ToolCallDelta(index=index, id=call_id, name=name, arguments=arguments):
                call: dict[str, Any] = {"index": index}
                if call_id is not None:
                    call["id"] = call_id
                    call["type"] = "function"
                fn: dict[str, Any] = {"arguments": arguments}
                if name is not None:
                    fn["name"] = name
                call["function"] = fn
                return self._chunk({"role": "assistant", "tool_calls": [call]})
            case UsageReport(usage=usage, cost=cost):
                self._usage = usage_json(usage, cost or ZERO, completions_cost(self._ctx, usage), self._ctx.upstream_cost)
                return b""
            case Finish(reason=reason, native_reason=native):
                out = b""
                if self._run is not None and self._run.annotations:  # the web plugin's citations
                    out = self._chunk({"role": "assistant", "annotations": self._run.annotations})
                out += self._chunk({}, reason, native)
                if self._usage is not None:
                    out += data_frame({**self._head, "choices": [], "usage": self._usage})
                return out + DONE
            case StreamFailure(error=error):
                out = b""
                if self._usage is not None:
                    out += data_frame({**self._head, "choices": [], "usage": self._usage})
                body = error_chunk_body(error)
                return out + data_frame(
                    {
                        **self._head,
                        **body,
                        "choices": [
                            {"index": 0, "delta": {"content": ""}, "finish_reason": "error", "native_finish_reason": None}
                        ],
                    }
                )
            case Heartbeat():
                return KEEPALIVE
        raise AssertionError(event)

