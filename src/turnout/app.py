"""The ASGI application: routes under /api/v1 (mirrored under /v1), error handling, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from turnout.api import account, admin, byok, catalog, completions, embeddings, presets
from turnout.api.anthropic import routes as anthropic_routes
from turnout.api.body import HELD
from turnout.api.cors import Cors, origin_of, route_of, with_headers
from turnout.api.disconnect import ClientWatch, Watches
from turnout.api.openai import routes as openai_routes
from turnout.api.openai.errors import error_response
from turnout.api.openapi import openapi
from turnout.api.request import FastRequest
from turnout.api.responses import routes as responses_routes
from turnout.logs import flush as flush_logs
from turnout.model.errors import ErrorKind, GatewayError
from turnout.observe import probes
from turnout.observe.observer import CURRENT, Slot
from turnout.observe.shutdown import Drain
from turnout.observe.timing import server_timing, timed_send
from turnout.observe.tracing import INCOMING_TRACEPARENT
from turnout.runtime import Runtime
from turnout.settings import Settings, load_settings
from turnout.web import web_routes

log = logging.getLogger("turnout")


def api_routes() -> list[BaseRoute]:
    return [
        Route("/chat/completions", openai_routes.chat_completions, methods=["POST"]),
        Route("/messages", anthropic_routes.messages, methods=["POST"]),
        Route("/messages/count_tokens", anthropic_routes.count_tokens, methods=["POST"]),
        Route("/responses", responses_routes.responses, methods=["POST"]),
        Route("/responses/{response_id}", responses_routes.response_by_id, methods=["GET", "DELETE"]),
        Route("/completions", completions.completions, methods=["POST"]),
        Route("/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/models", catalog.list_models, methods=["GET"]),
        Route("/models/count", catalog.count_models, methods=["GET"]),
        Route("/models/user", catalog.user_models, methods=["GET"]),
        Route("/embeddings/models", catalog.embedding_models, methods=["GET"]),
        Route("/endpoints/zdr", catalog.zdr_endpoints, methods=["GET"]),
        Route("/models/{author}/{slug}/endpoints", catalog.model_endpoints, methods=["GET"]),
        Route("/generation", account.get_generation, methods=["GET"]),
        Route("/key", account.get_key, methods=["GET"]),
        Route("/keys", admin.list_keys, methods=["GET"]),
        Route("/keys", admin.create_key, methods=["POST"]),
        Route("/keys/{hash}", admin.get_key, methods=["GET"]),
        Route("/keys/{hash}", admin.update_key, methods=["PATCH"]),
        Route("/keys/{hash}", admin.delete_key, methods=["DELETE"]),
        Route("/credits", account.get_credits, methods=["GET"]),
        Route("/credits", admin.add_credits, methods=["POST"]),
        Route("/activity", account.get_activity, methods=["GET"]),
        Route("/apps", account.get_apps, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/byok", byok.list_byok, methods=["GET"]),
        Route("/byok", byok.create_byok, methods=["POST"]),
        Route("/byok/settings", byok.byok_settings, methods=["GET", "PATCH"]),
        Route("/byok/{id}", byok.get_byok, methods=["GET"]),
        Route("/byok/{id}", byok.update_byok, methods=["PATCH"]),
        Route("/byok/{id}", byok.delete_byok, methods=["DELETE"]),
        Route("/presets", presets.list_presets, methods=["GET"]),
        Route("/presets/{slug}", presets.get_preset, methods=["GET"]),
        Route("/presets/{slug}", presets.delete_preset, methods=["DELETE"]),
        Route("/presets/{slug}/versions", presets.list_versions, methods=["GET"]),
        Route("/presets/{slug}/versions/{version}", presets.get_version, methods=["GET"]),
        Route("/presets/{slug}/chat/completions", presets.create_from_chat, methods=["POST"]),
        Route("/presets/{slug}/messages", presets.create_from_messages, methods=["POST"]),
        Route("/presets/{slug}/responses", presets.create_from_responses, methods=["POST"]),
    ]


async def on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = ErrorKind.ROUTING_NO_ENDPOINT if exc.status_code == 404 else ErrorKind.CALLER_INVALID_REQUEST
    message = "not found" if exc.status_code == 404 else str(exc.detail)
    return error_response(GatewayError(kind, message, status=exc.status_code))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(GatewayError(ErrorKind.GATEWAY_INTERNAL, "Internal error"))


Handler = Callable[[Request], Awaitable[Response]]
Scope = dict[str, Any]
ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]


class TurnoutApp:
    """The Starlette app, with the inference endpoints answered straight from a path lookup.

    Every request on the hot path would otherwise walk Starlette's middleware stack and route
    list (about a tenth of the gateway's CPU per request in bench/'s profile); these handlers
    keep the same `Request`/`Response` types and the same error envelopes, and everything else
    (lifespan, the rest of the API, the web UI) goes through Starlette unchanged.

    CORS (api/cors.py) is decided here, in front of both: a preflight is answered before any
    route, key check or body read.
    """

    def __init__(self, app: Starlette, fast: dict[tuple[str, str], Handler], settings: Settings) -> None:
        self.app = app
        self._fast = fast
        self._watches = Watches()
        # uvicorn's X-Forwarded-* handling (`proxy_headers`), for the routes that read the client's
        # address or scheme (the web UI's links); serve turns it off in uvicorn (protocol.py) so
        # that the inference routes, which read neither, skip it.
        self._slow = ProxyHeadersMiddleware(app, trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))  # type: ignore[arg-type]
        self.settings = settings  # also read by the HTTP protocol (protocol.py) for its limits
        self._cors = Cors(settings.cors_origins) if settings.cors_origins else None

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return
        slot = Slot()  # the request's context, for Server-Timing and the trace parent
        CURRENT.set(slot)
        for name, value in scope["headers"]:
            if name == b"traceparent":
                INCOMING_TRACEPARENT.set(value[:128].decode("latin-1"))
                break
        if self._cors is not None:
            origin = origin_of(scope)
            if origin is not None and route_of(scope["path"]) is not None:
                if scope["method"] == "OPTIONS":
                    answer = self._cors.preflight(scope, origin)
                    if answer is not None:
                        status, headers, body = answer
                        headers = [*headers, (b"server-timing", server_timing(slot))]
                        await send({"type": "http.response.start", "status": status, "headers": headers})
                        await send({"type": "http.response.body", "body": body})
                        return
                extra = self._cors.actual(scope, origin)
                if extra is not None:
                    send = with_headers(send, extra)
        handler = self._fast.get((scope["method"], scope["path"]))
        try:
            if handler is None:
                await self._slow(scope, receive, timed_send(send, slot))  # type: ignore[arg-type]
                return
            scope["app"] = self.app
            watch = ClientWatch(receive, self._watches)  # a client leaving before the answer cancels the handler
            request = FastRequest(scope, watch.receive)
            try:
                response = await handler(request)
            except GatewayError as exc:
                response = error_response(exc)
            except asyncio.CancelledError:
                if watch.left():
                    return  # nobody to answer; the request is recorded as cancelled
                raise
            except Exception as exc:
                response = await on_unexpected(request, exc)
            finally:
                watch.stop()
            response.raw_headers.append((b"server-timing", server_timing(slot)))
            await response(scope, receive, send)  # type: ignore[arg-type]
        finally:
            if HELD in scope:  # the request's body budget (api/body.py), once its answer has ended
                self.app.state.runtime.bodies.release(scope)


FAST_ROUTES: dict[str, Handler] = {
    "/chat/completions": openai_routes.chat_completions,
    "/messages": anthropic_routes.messages,
    "/responses": responses_routes.responses,
    "/completions": completions.completions,
    "/embeddings": embeddings.embeddings,
}


def create_app(settings: Settings | None = None) -> TurnoutApp:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = Runtime.build(settings)
        await runtime.start()
        app.state.runtime = runtime
        drain = Drain(runtime.observer, settings.shutdown_grace)
        drain.install()
        metrics_server = await probes.start_metrics_port(runtime) if settings.metrics_port else None
        try:
            yield
        finally:
            drain.close()
            if metrics_server is not None:
                metrics_server.close()
            await runtime.close()
            flush_logs()  # the shutdown's own lines, before the loop ends

    app = Starlette(
        routes=[
            Mount("/api/v1", routes=api_routes()), Mount("/v1", routes=api_routes()), Route("/health", probes.health), Route("/ready", probes.ready),
            Route("/metrics", probes.metrics),
            *web_routes(),
        ],
        exception_handlers={
            GatewayError: on_gateway_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
        lifespan=lifespan,
    )
    fast = {("POST", prefix + path): handler for prefix in ("/api/v1", "/v1") for path, handler in FAST_ROUTES.items()}
    return TurnoutApp(app, fast, settings)


def create_app_from_env() -> TurnoutApp:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from TURNOUT_* only."""
    from turnout.logs import configure

    settings = load_settings()
    configure(settings.log_level, settings.log_format)  # each worker process has its own loggers
    return create_app(settings)
