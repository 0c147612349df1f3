"""CORS for the API, so browser apps call turnout with a bearer key as they call OpenRouter.

Every route under /api/v1 and /v1 answers the configured origins (`cors_origins`, default `*`),
except key management (`/keys...`) and granting credits (`POST /credits`): an admin key has no
business in a browser, so no browser page may call those. Credentials (cookies) are never allowed;
keys travel in the Authorization or x-api-key header. A preflight (OPTIONS with
Access-Control-Request-Method) is answered here, before routing, authentication or the body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]

PREFIXES = ("/api/v1/", "/v1/")
# What a page may read of an answer besides the CORS-safelisted headers.
EXPOSED = b"x-generation-id, request-id, retry-after"
MAX_AGE = b"7200"  # Chromium's ceiling; Firefox takes up to a day
METHODS = frozenset((b"GET", b"POST", b"PATCH", b"DELETE"))


def route_of(path: str) -> str | None:
    """The API route of `path` without its prefix (`/chat/completions`), or None off the API."""
    for prefix in PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) - 1:]
    return None


def allowed(route: str, method: bytes) -> bool:
    """Whether a browser may call `method route`: anything but the admin routes."""
    if route == "/keys" or route.startswith("/keys/"):
        return False
    return not (route == "/credits" and method == b"POST")


class Cors:
    """The configured origins, and the header lines they produce (built once, at start-up)."""

    __slots__ = ("_actual_any", "any", "origins")

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.encode("latin-1") for o in origins)
        self._actual_any = [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", EXPOSED)]

    def allow(self, origin: bytes) -> bytes | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
        if self.any:
            return b"*"
        return origin if origin in self.origins else None

    def preflight(self, scope: dict[str, Any], origin: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The answer to an OPTIONS preflight, (status, headers, body); None if it is not one."""
        method = None
        requested = b""
        for name, value in scope["headers"]:
            if name == b"access-control-request-method":
                method = bytes(value).strip().upper()
            elif name == b"access-control-request-headers":
                requested = bytes(value)
        if method is None:
            return None
        route = route_of(scope["path"]) or ""
        allow = self.allow(origin)
        if allow is None or method not in METHODS or not allowed(route, method):
            message = ("this origin may not call the API from a browser (see cors_origins)" if allow is None
                       else f"{method.decode('latin-1')} {route} cannot be called from a browser")
            body = orjson.dumps({"error": {"code": 403, "message": message, "metadata": None}})
            return 403, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body
        headers = [
            (b"access-control-allow-origin", allow),
            (b"access-control-allow-methods", method),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"origin, access-control-request-method, access-control-request-headers"),
        ]
        if requested:
            # Any header the page asks for (SDKs send their own x-stainless-* and anthropic-* ones):
            # with no credentials allowed, naming them grants nothing a key does not already grant.
            headers.append((b"access-control-allow-headers", requested))
        return 204, headers, b""

    def actual(self, scope: dict[str, Any], origin: bytes) -> list[tuple[bytes, bytes]] | None:
        """The headers to add to an actual (non-preflight) answer, or None to add none."""
        route = route_of(scope["path"])
        if route is None or not allowed(route, scope["method"].encode("latin-1")):
            return None
        allow = self.allow(origin)
        if allow is None:
            return None
        if self.any:
            return self._actual_any
        return [(b"access-control-allow-origin", allow), (b"access-control-expose-headers", EXPOSED),
                (b"vary", b"origin")]


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """`send`, adding `extra` to the response's head."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


def origin_of(scope: dict[str, Any]) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"origin":
            return bytes(value)
    return None
