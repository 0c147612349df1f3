"""The web UI's routes: pages (`/`, `/models`, `/models/{author}/{slug}`, `/chat`, `/activity`),
the UI's own JSON (`/ui/api/...`, authenticated with the caller's key) and static files.

Handlers stay thin: they read the catalog (in memory), fetch statistics in a worker thread, and
hand both to a view module. Nothing here is on the API's request path.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from turnout.api.auth import authenticate
from turnout.api.public_url import public_base
from turnout.core.money.categories import KNOWN as KNOWN_CATEGORIES
from turnout.runtime import Runtime
from turnout.web.activity_view import MAX_DAYS, load_activity, render_activity_page
from turnout.web.admin_view import admin_data, render_admin_page
from turnout.web.catalog_view import Filters, matching, render_catalog, render_results
from turnout.web.chat_view import render_chat
from turnout.web.headers import Secured, secured
from turnout.web.layout import not_found, page
from turnout.web.model_view import DEFAULT_RANGE, RANGES, load_model_stats, render_model
from turnout.web.queries import Stats, open_stats
from turnout.web.variants import suffix_variant


def stats_of(request: Request) -> Stats:
    """The app's statistics reader, made on first use (the runtime exists only after start-up)."""
    state = request.app.state
    stats: Stats | None = getattr(state, "web_stats", None)
    if stats is None:
        stats = open_stats(state.runtime.settings, state.runtime.store)
        state.web_stats = stats
    return stats


def api_base(request: Request) -> str:
    """The API's base URL for the code samples (api/public_url.py: never an arbitrary Host header)."""
    return public_base(request, request.app.state.runtime.settings) + "/api/v1"


async def catalog_page(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    filters = Filters.parse(request.query_params, {k: request.query_params.getlist(k) for k in ("modality", "param")})
    judge = rt.dispatcher.availability
    if request.query_params.get("partial"):
        return HTMLResponse(render_results(matching(rt.catalog, filters), judge, filters))
    return page("Models", render_catalog(rt.catalog, filters, judge), active="/models", scripts=("catalog.js",))


async def model_page(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = rt.catalog.get(model_id) or suffix_variant(rt.catalog, model_id)
    if model is None:
        return not_found(f"There is no model {model_id} in this gateway's catalog.")
    range_name = request.query_params.get("range", DEFAULT_RANGE)
    if range_name not in RANGES:
        range_name = DEFAULT_RANGE
    category = request.query_params.get("category")
    if category not in KNOWN_CATEGORIES:
        category = None
    st = await asyncio.to_thread(load_model_stats, stats_of(request), model.id, range_name, None, category)
    body = render_model(model, rt.catalog, rt, st, api_base(request))
    return page(model.name, body, active="/models")


async def chat_page(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    body = render_chat(rt.catalog, request.query_params.get("model"), rt.dispatcher.availability)
    return page("Chat", body, active="/chat", scripts=("chat.js",))


async def activity_page(request: Request) -> Response:
    return page("Activity", render_activity_page(), active="/activity", scripts=("activity.js",))


async def activity_data(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = await authenticate(request.headers, rt.keys, check_limit=False)
    try:
        days = min(max(int(request.query_params.get("days", "30")), 1), MAX_DAYS)
    except ValueError:
        days = 30
    data = await asyncio.to_thread(load_activity, stats_of(request), key, days)
    return Response(orjson.dumps(data), media_type="application/json", headers={"cache-control": "no-store"})


async def admin_page(request: Request) -> Response:
    return page("Admin", render_admin_page(), active="/admin", scripts=("admin.js",))


def web_routes() -> list[BaseRoute]:
    """Every UI route, each response with the security headers (web/headers.py)."""
    return [
        Route("/", secured(catalog_page), methods=["GET"]),
        Route("/models", secured(catalog_page), methods=["GET"]),
        Route("/models/{author}/{slug}", secured(model_page), methods=["GET"]),
        Route("/chat", secured(chat_page), methods=["GET"]),
        Route("/activity", secured(activity_page), methods=["GET"]),
        Route("/ui/api/activity", secured(activity_data), methods=["GET"]),
        Route("/admin", secured(admin_page), methods=["GET"]),
        Route("/ui/api/admin", secured(admin_data), methods=["GET"]),
        Mount("/ui/static", app=Secured(StaticFiles(packages=[("turnout.web", "static")])), name="ui-static"),
    ]
