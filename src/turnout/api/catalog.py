"""Catalog routes (no key needed, but `/models/user`): `GET /models` with OpenRouter's query
parameters, `/models/count`, `/models/user`, `/embeddings/models`, `/endpoints/zdr` and
`GET /models/{author}/{slug}/endpoints` (which also resolves `~author/family-latest`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate
from turnout.api.catalog_query import ModelQuery, listing
from turnout.api.catalog_wire import endpoint_wire, model_wire, models_body
from turnout.api.public_url import public_base
from turnout.core.catalog.catalog import Endpoint, Model
from turnout.core.money import categories
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.runtime import Runtime


def _json(obj: object) -> Response:
    return Response(orjson.dumps(obj), media_type="application/json")


def _everything(request: Request, rt: Runtime) -> bool:
    return rt.settings.list_all_models or request.query_params.get("all", "").lower() in ("1", "true", "yes")


def _models(request: Request, rt: Runtime, pool: list[Model]) -> Response:
    query = ModelQuery.parse(request.query_params)
    chosen = query.select(pool)
    page, next_url = query.page(chosen, request.url.path, request.query_params)
    return _json(listing(page, len(chosen), next_url, public_base(request, rt.settings)))


async def list_models(request: Request) -> Response:
    """The catalog: by default the models with an available endpoint (and every built-in or
    configured one); `?all=true` or `list_all_models` lists every model. The plain form is a
    body built once; filters, sorting and paging are applied per request. `?category=` lists the
    models that apps of that category (X-OpenRouter-Categories) used in the last 30 days, most
    used first."""
    rt: Runtime = request.app.state.runtime
    everything = _everything(request, rt)
    if not request.query_params or request.query_params.keys() <= {"all"}:
        return Response(models_body(rt.catalog, everything, public_base(request, rt.settings)),
                        media_type="application/json")
    pool = rt.catalog.listed(everything)
    category = request.query_params.get("category")
    if category:
        pool = await _used_by(rt, category, pool)
    return _models(request, rt, pool)


CATEGORY_DAYS = 30
CATEGORY_MODELS = 1000  # the most used models of a category considered


async def _used_by(rt: Runtime, category: str, pool: list[Model]) -> list[Model]:
    """The models of `pool` that apps of the category used, by their tokens, most first."""
    if category not in categories.KNOWN:
        raise invalid("category", f"'category' must be one of {', '.join(categories.CATEGORIES)}")
    since = (datetime.now(UTC).date() - timedelta(days=CATEGORY_DAYS)).isoformat()
    used = await asyncio.to_thread(rt.store.models_by_category, category, since, CATEGORY_MODELS)
    listed = {m.id: m for m in pool}
    return [listed[model_id] for model_id, _ in used if model_id in listed]


async def count_models(request: Request) -> Response:
    """`{"data": {"count": N}}`: how many models `GET /models` would list with these filters."""
    rt: Runtime = request.app.state.runtime
    query = ModelQuery.parse(request.query_params)
    return _json({"data": {"count": len(query.select(rt.catalog.listed(_everything(request, rt))))}})


async def user_models(request: Request) -> Response:
    """The models the calling key can use now: each has an endpoint that is available and not
    held off by its circuit breaker."""
    rt: Runtime = request.app.state.runtime
    await authenticate(request.headers, rt.keys, check_limit=False)
    usable = [m for m in rt.catalog.models.values()
              if any(rt.dispatcher.availability(e)[0] and rt.dispatcher.health.blocked(e.key) is None
                     for e in m.endpoints)]
    return _models(request, rt, usable)


async def embedding_models(request: Request) -> Response:
    """The embedding models, on the same `ModelsListResponse`."""
    rt: Runtime = request.app.state.runtime
    pool = [m for m in rt.catalog.listed(_everything(request, rt)) if m.kind == "embedding"]
    query = ModelQuery.parse({**request.query_params, "output_modalities": "all"})
    chosen = query.select(pool)
    page, next_url = query.page(chosen, request.url.path, request.query_params)
    return _json(listing(page, len(chosen), next_url, public_base(request, rt.settings)))


async def zdr_endpoints(request: Request) -> Response:
    """Every endpoint whose provider keeps no data (`data_policy.zdr`), as `PublicEndpoint`s."""
    rt: Runtime = request.app.state.runtime
    data = [_endpoint_entry(rt, e) for m in rt.catalog.models.values() for e in m.endpoints
            if e.provider.data_policy.get("zdr")]
    return _json({"data": data})


def _endpoint_entry(rt: Runtime, e: Endpoint) -> dict[str, object]:
    ok, why = rt.dispatcher.availability(e)
    live = rt.dispatcher.health.snapshot(e.key)
    entry = endpoint_wire(e)
    entry.update({k: v for k, v in live.items() if k != "status"})
    entry["status"] = live["status"] if ok else -1
    entry["status_message"] = why or rt.dispatcher.health.blocked(e.key)
    return entry


async def model_endpoints(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = rt.catalog.get(model_id) or rt.catalog.latest(model_id)
    if model is None:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"model {model_id} not found", status=404)
    endpoints = [_endpoint_entry(rt, e) for e in model.endpoints]
    wire = model_wire(model)
    return _json(
        {
            "data": {
                "id": model.id,
                "name": model.name,
                "created": model.created,
                "description": model.description,
                "architecture": wire["architecture"],
                "endpoints": endpoints,
            }
        }
    )
