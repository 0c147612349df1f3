"""The security headers every web UI response carries.

The pages load only their own scripts, styles and images (`/ui/static/`), talk only to this
gateway, and are never framed: the Content-Security-Policy allows exactly that and no inline
script or style (charts colour their series with classes, not style attributes), so injected
markup cannot run. `nosniff` keeps browsers from guessing types, and no Referer leaves with a
link to another site (a page URL can hold a model id or filters, nothing for third parties).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send

from turnout.api.openai.errors import error_response
from turnout.model.errors import GatewayError

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
}
_RAW = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

Handler = Callable[[Request], Awaitable[Response]]


def secured(handler: Handler) -> Handler:
    """A page or UI-API handler whose responses carry the security headers."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            response = await handler(request)
        except GatewayError as exc:  # a refused key on the UI's JSON: the same envelope, with the headers
            response = error_response(exc)
        response.headers.update(HEADERS)
        return response

    return wrapped


class Secured:
    """An ASGI app (the static files) whose responses carry the security headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in _RAW}
                message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names] + _RAW
            await send(message)

        await self.app(scope, receive, sending)
