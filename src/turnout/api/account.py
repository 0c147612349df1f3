"""Per-key routes: `GET /key` (the calling key) and `GET /generation?id=` (one request's record)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate
from turnout.api.openai.encode import cost_number
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.runtime import Runtime
from turnout.store.base import GenerationRecord


async def get_key(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = authenticate(request.headers, rt.keys, check_limit=False)
    remaining = key.remaining
    return Response(
        orjson.dumps(
            {
                "data": {
                    "label": key.label,
                    "name": key.name,
                    "usage": cost_number(key.usage),
                    "limit": None if key.limit is None else cost_number(key.limit),
                    "limit_remaining": None if remaining is None else cost_number(max(remaining, Decimal(0))),
                    "is_free_tier": False,
                    "rate_limit": None,
                }
            }
        ),
        media_type="application/json",
    )


def generation_json(rec: GenerationRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "created_at": rec.created_at,
        "model": rec.model,
        "provider_name": rec.provider,
        "upstream_model": rec.upstream_model,
        "api_type": "completions",
        "dialect_in": rec.dialect_in,
        "dialect_out": rec.dialect_out,
        "streamed": rec.streamed,
        "status": rec.status,
        "finish_reason": rec.finish_reason,
        "native_finish_reason": rec.native_finish_reason,
        "tokens_prompt": rec.prompt_tokens,
        "tokens_completion": rec.completion_tokens,
        "native_tokens_prompt": rec.prompt_tokens,
        "native_tokens_completion": rec.completion_tokens,
        "native_tokens_cached": rec.cached_tokens,
        "native_tokens_cache_write": rec.cache_write_tokens,
        "native_tokens_reasoning": rec.reasoning_tokens,
        "usage_estimated": rec.usage_estimated,
        "total_cost": cost_number(rec.cost),
        "usage": cost_number(rec.cost),
        "latency": None if rec.latency_ms is None else round(rec.latency_ms, 2),
        "generation_time": round(rec.generation_time_ms, 2),
        "error_code": rec.error_code,
        "error_message": rec.error_message,
        "app_title": rec.app_title,
        "app_referer": rec.app_referer,
        "attempts": rec.attempts,
        "is_byok": False,
    }


async def get_generation(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = authenticate(request.headers, rt.keys, check_limit=False)
    gen_id = request.query_params.get("id")
    if not gen_id:
        raise invalid("id", "the query parameter 'id' is required")
    rec = rt.accountant.recent(gen_id) or await asyncio.to_thread(rt.store.get_generation, gen_id)
    if rec is None or rec.key_hash != key.hash:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"generation {gen_id} not found", status=404)
    return Response(orjson.dumps({"data": generation_json(rec)}), media_type="application/json")
