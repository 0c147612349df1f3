"""Catalog routes: `GET /models` and `GET /models/{author}/{slug}/endpoints` (no key needed)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.model.errors import ErrorKind, GatewayError
from turnout.runtime import Runtime


def _json(obj: object) -> Response:
    return Response(orjson.dumps(obj), media_type="application/json")


async def list_models(request: Request) -> Response:
    """The catalog, from a body built once: by default the models with an available endpoint
    (and every built-in or configured one); `?all=true` or `list_all_models` lists every model."""
    rt: Runtime = request.app.state.runtime
    everything = rt.settings.list_all_models or request.query_params.get("all", "").lower() in ("1", "true", "yes")
    return Response(rt.catalog.models_body(everything), media_type="application/json")


async def model_endpoints(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = rt.catalog.get(model_id)
    if model is None:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"model {model_id} not found", status=404)
    endpoints = []
    for e in model.endpoints:
        ok, why = rt.dispatcher.availability(e)
        live = rt.dispatcher.health.snapshot(e.key)
        entry = e.to_wire()
        entry.update({k: v for k, v in live.items() if k != "status"})
        entry["status"] = live["status"] if ok else -1
        entry["status_message"] = why or rt.dispatcher.health.blocked(e.key)
        endpoints.append(entry)
    wire = model.to_wire()
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
