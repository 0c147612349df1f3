"""Routes about the caller's own money and usage.

`GET /key` (the calling key: limits, usage by period, rate limits), `GET /credits` (its account's
credits and usage; an admin key sees any account), `GET /activity` (usage per day x model x
provider for the last 30 days: the calling key's, or every key's with an admin key),
`GET /apps?model=` (the apps that used a model most, by tokens) and `GET /generation?id=` (the
calling key's own generations; an admin key sees any, with each attempt's `detail`: the hosts and
addresses behind a failed attempt, which a user key never sees).
Reads come from the in-memory key and account state and from the store's daily roll-ups.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate, identify
from turnout.api.openai.encode import cost_number
from turnout.core.money import categories
from turnout.core.money.bounds import origin
from turnout.core.money.keys import KeyState
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.runtime import Runtime
from turnout.store.base import DEFAULT_ACCOUNT, GenerationRecord, KeyRecord

ACTIVITY_DAYS = 30
ZERO = Decimal(0)


def iso(ts: float | None) -> str | None:
    return None if not ts else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _money(d: Decimal | None) -> Any:
    return None if d is None else cost_number(d)


def key_json(rt: Runtime, record: KeyRecord | None, state: KeyState | None) -> dict[str, Any]:
    """OpenRouter's key object, from the live state when this process has it (it includes unflushed spend)."""
    now = time.time()
    if state is None:
        if record is None:
            raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, "no such key", status=404)
        state = KeyState(record.hash, record.name, record.label, record.limit, record.usage, record.disabled,
                         record.account_id, record.limit_reset, record.rate_limit_rpm, record.rate_limit_tpm,
                         record.created_at, record.updated_at)
    state.roll(now)
    remaining = state.remaining(now)
    rpm, tpm = rt.limiter.limits(state)
    return {
        "hash": state.hash,
        "name": state.name,
        "label": state.label,
        "disabled": record.disabled if record is not None else state.disabled,
        "limit": _money(state.limit),
        "limit_remaining": None if remaining is None else cost_number(max(remaining, ZERO)),
        "limit_reset": state.limit_reset,
        "include_byok_in_limit": rt.byok.include_in_limit(state.account_id),  # the account's setting (docs/accounts.md)
        "usage": cost_number(state.usage),
        "usage_daily": cost_number(state.usage_daily),
        "usage_weekly": cost_number(state.usage_weekly),
        "usage_monthly": cost_number(state.usage_monthly),
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "reserved": cost_number(state.reserved),
        "account": state.account_id,
        "rate_limit": {"requests_per_minute": rpm or None, "tokens_per_minute": tpm or None, "interval": "1m"},
        "created_at": iso(record.created_at if record is not None else state.created_at),
        "updated_at": iso(record.updated_at if record is not None else state.updated_at),
        "expires_at": None,
        # Required by OpenRouter's SDKs; turnout has no users or organizations, and its accounts
        # play the part of workspaces.
        "creator_user_id": None,
        "external_user": None,
        "workspace_id": state.account_id,
        "last_used_at": None,  # not tracked: the request path never writes to the store
    }


def key_budgets(state: KeyState) -> list[dict[str, Any]]:
    """OpenRouter's `budgets` of a key (its SDKs require the field): the key's limit, if any."""
    if state.limit is None:
        return []
    now = time.time()
    spent = state.limit_usage(now)
    return [{
        "scope": "key_limit", "budget_id": None, "guardrail_id": None, "include_byok": False,
        "limit_usd": cost_number(state.limit), "spend_usd": cost_number(spent),
        "remaining_usd": cost_number(max(state.limit - spent - state.reserved, ZERO)),
        "reset_interval": state.limit_reset, "resets_at": iso(state.limit_resets_at(now)),
    }]


async def get_key(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = await authenticate(request.headers, rt.keys, check_limit=False)
    data = key_json(rt, None, key)
    budgets = key_budgets(key)
    rpm = data["rate_limit"]["requests_per_minute"]
    data.update({
        "is_free_tier": False,
        "is_management_key": False,
        "is_provisioning_key": False,
        "organization_id": None,
        "allowed_data_regions": ["global"],
        # turnout does not count free-model requests per day: -1, as in rate_limit.requests
        "free_model_daily_requests": {"limit": -1, "remaining": -1, "used": 0},
        # the budget layers enforcement checks: here only the key's own limit, when it has one
        "budgets": budgets,
        "effective_budget": budgets[0] if budgets else None,
        "rate_limit": {**data["rate_limit"], "requests": rpm if rpm else -1,
                       "note": "requests per minute for this key; -1: no limit"},
    })
    return _json({"data": data})


async def get_credits(request: Request) -> Response:
    """{data: {total_credits, total_usage}} for the caller's account (an admin key: ?account=, default 'default')."""
    rt: Runtime = request.app.state.runtime
    caller = await identify(request.headers, rt.keys, rt.admin)
    account_id = caller.key.account_id if caller.key is not None else request.query_params.get("account", DEFAULT_ACCOUNT)
    record = await asyncio.to_thread(rt.store.get_account, account_id)
    if record is None:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"account {account_id} not found", status=404)
    state = rt.ledger.account(account_id)
    return _json({"data": {
        "total_credits": cost_number(state.credits),
        "total_usage": cost_number(state.usage),
        "balance": cost_number(state.credits - state.usage),
        "reserved": cost_number(state.reserved),
        "account": account_id,
        "credits_required": rt.ledger.require_credits,
    }})


async def get_activity(request: Request) -> Response:
    """Per day x model x provider for the last 30 completed UTC days and today."""
    rt: Runtime = request.app.state.runtime
    caller = await identify(request.headers, rt.keys, rt.admin)
    q = request.query_params
    key_hash = caller.key.hash if caller.key is not None else (q.get("api_key_hash") or q.get("key_hash") or None)
    today = datetime.now(UTC).date()
    since = (today - timedelta(days=ACTIVITY_DAYS)).isoformat()
    only_day = q.get("date")
    if only_day is not None:
        try:
            only_day = datetime.strptime(only_day[:10], "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise invalid("date", "'date' must be a day, YYYY-MM-DD") from None
    rows = await asyncio.to_thread(rt.store.activity, since, key_hash)
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:  # an admin sees every key: add keys up per day x model x provider
        if only_day is not None and r.day != only_day:
            continue
        item = merged.get((r.day, r.model, r.provider))
        if item is None:
            item = merged[(r.day, r.model, r.provider)] = {
                "date": r.day, "model": r.model, "model_permaslug": r.model, "endpoint_id": f"{r.provider}/{r.model}",
                "provider_name": r.provider or None, "usage": ZERO, "byok_usage_inference": 0, "requests": 0,
                "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0,
            }
        item["usage"] += r.cost
        item["requests"] += r.requests
        item["prompt_tokens"] += r.prompt_tokens
        item["completion_tokens"] += r.completion_tokens
        item["reasoning_tokens"] += r.reasoning_tokens
    data = sorted(merged.values(), key=lambda i: (i["date"], i["model"], i["provider_name"] or ""), reverse=True)
    for item in data:
        item["usage"] = cost_number(item["usage"])
    return _json({"data": data})


async def get_apps(request: Request) -> Response:
    """The apps (by HTTP-Referer origin, else X-Title) that used a model most in the last 30 days, by
    tokens; `?category=` keeps the apps that gave themselves that category (X-OpenRouter-Categories). A key sees its own apps in full and other keys' apps only by the title they set (never
    their referer); an admin key sees every app in full."""
    rt: Runtime = request.app.state.runtime
    caller = await identify(request.headers, rt.keys, rt.admin)
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise invalid("limit", "'limit' must be an integer") from None
    if not 1 <= limit <= 100:
        raise invalid("limit", "'limit' must be between 1 and 100")
    category = q.get("category") or None
    if category is not None and category not in categories.KNOWN:
        raise invalid("category", f"'category' must be one of {', '.join(categories.CATEGORIES)}")
    since = (datetime.now(UTC).date() - timedelta(days=ACTIVITY_DAYS)).isoformat()
    rows = await asyncio.to_thread(functools.partial(
        rt.store.top_apps, q.get("model") or None, since, limit,
        viewer=caller.key.hash if caller.key is not None else None, admin=caller.admin, category=category))
    data = []
    for r in rows:
        # Rows recorded before referers were cut to their origin are cut on the way out.
        referer = origin(r.referer)
        app = referer if r.referer is not None and r.app == r.referer else r.app
        data.append({"app": app, "title": r.title, "referer": referer, "requests": r.requests, "total_tokens": r.tokens})
    return _json({"data": data})


# OpenRouter names the API a request came through: chat "completions", "embeddings", ...
API_TYPES = {"openai": "completions", "anthropic": "messages", "responses": "responses",
             "completions": "completions", "embeddings": "embeddings"}


def generation_json(rec: GenerationRecord, *, admin: bool = False) -> dict[str, Any]:
    """OpenRouter's generation object (every field its strict SDKs require; those turnout has no
    notion of are null), plus turnout's own: dialects, status, estimate flag, attempts (with the
    failures' `detail`, naming hosts, for an admin only)."""
    attempts = rec.attempts if admin else [{k: v for k, v in a.items() if k != "detail"} for a in rec.attempts]
    served = rec.attempts[-1] if rec.attempts and isinstance(rec.attempts[-1], dict) else None
    return {
        "id": rec.id,
        "created_at": iso(rec.created_at),
        "model": rec.model,
        "provider_name": rec.provider,
        "upstream_model": rec.upstream_model,
        "api_type": API_TYPES.get(rec.dialect_in, rec.dialect_in),
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
        "attempts": attempts,
        "pipeline": rec.pipeline,
        "is_byok": bool(served and served.get("is_byok")),
        "cancelled": rec.status == "cancelled",
        "http_referer": rec.app_referer,
        "origin": rec.app_referer or "",
        "data_region": "global",
        "provider_responses": [provider_response(a) for a in rec.attempts if isinstance(a, dict)],
        "upstream_inference_cost": _upstream_cost(served),
        **dict.fromkeys(GENERATION_NULLS),
    }


def _upstream_cost(served: dict[str, Any] | None) -> Any:
    """What the provider billed the account's own key (BYOK), as recorded with the serving attempt."""
    raw = served.get("upstream_cost") if served else None
    try:
        return None if raw is None else cost_number(Decimal(str(raw)))
    except ArithmeticError:
        return None


def provider_response(attempt: dict[str, Any]) -> dict[str, Any]:
    """One attempt as OpenRouter's `provider_responses` item (`status` may be null, the rest absent)."""
    out: dict[str, Any] = {"status": attempt.get("status"), "is_byok": bool(attempt.get("is_byok"))}
    for name, key in (("provider_name", "provider"), ("model_permaslug", "model"), ("latency", "ms")):
        if attempt.get(key) is not None:
            out[name] = attempt[key]
    return out


# Fields of OpenRouter's generation object that turnout does not track.
GENERATION_NULLS = (
    "app_id", "cache_discount", "external_user", "moderation_latency", "native_tokens_completion_images",
    "num_fetches", "num_input_audio_prompt", "num_media_completion", "num_media_prompt", "num_search_results",
    "preset_id", "router", "service_tier", "upstream_id", "user_agent", "web_search_engine", "workspace_id",
)


async def get_generation(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    caller = await identify(request.headers, rt.keys, rt.admin)
    gen_id = request.query_params.get("id")
    if not gen_id:
        raise invalid("id", "the query parameter 'id' is required")
    rec = rt.accountant.recent(gen_id) or await asyncio.to_thread(rt.store.get_generation, gen_id)
    if rec is None or (caller.key is not None and rec.key_hash != caller.key.hash):
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"generation {gen_id} not found", status=404)
    return Response(orjson.dumps({"data": generation_json(rec, admin=caller.admin)}), media_type="application/json")
