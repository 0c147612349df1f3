"""Answering every failure of a route in its own dialect's error envelope.

The app's global handlers render OpenAI's envelope; a route of another dialect (Anthropic,
Responses) is wrapped here so that its clients' SDKs always see the error shape they parse.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from turnout.model.errors import ErrorKind, GatewayError

log = logging.getLogger("turnout")

Route = Callable[[Request], Awaitable[Response]]


def in_envelope(render: Callable[[GatewayError], Response]) -> Callable[[Route], Route]:
    def wrap(route: Route) -> Route:
        @functools.wraps(route)
        async def answered(request: Request) -> Response:
            try:
                return await route(request)
            except GatewayError as exc:
                return render(exc)
            except Exception:  # a bug of ours: still answered in this dialect's envelope, and logged
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return render(GatewayError(ErrorKind.GATEWAY_INTERNAL, "Internal error"))

        return answered

    return wrap
