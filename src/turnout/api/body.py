"""Reading a JSON request body within bounds; bad bodies become 400/408/413/415 in the caller's dialect.

Bounded in size (`max_body_bytes`: from `Content-Length` before reading anything, else as the
chunks arrive) and in time (`body_timeout`: a body that trickles or never ends is cut with a
408). A content type that cannot carry a JSON document (a multipart form, an image ...) is a 415;
no content type, JSON, text and curl's default form type are read as JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request

from turnout.model.errors import ErrorKind, GatewayError

# Media types that are never a JSON document, whatever the bytes say.
NOT_JSON = ("multipart/", "image/", "audio/", "video/", "font/", "model/")


async def read_json(request: Request, limit: int, timeout: float = 30.0) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media.startswith(NOT_JSON):
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST,
                           f"the request body must be JSON (Content-Type: application/json), not {media[:100]}",
                           status=415)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    try:
        async with asyncio.timeout(timeout):
            body = await _receive(request, limit)
    except TimeoutError:
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST,
                           f"the request body did not arrive within {timeout:g} seconds", status=408) from None
    if not body:
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, "the request body is empty; a JSON object is required")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, f"the request body is not valid JSON: {exc}") from None


async def _receive(request: Request, limit: int) -> bytes:
    # Straight from ASGI `receive`: Starlette's `Request.stream()` costs more than the JSON parse.
    parts: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away mid-body
            raise GatewayError(ErrorKind.CALLER_CANCELLED, "the client disconnected while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
        if not message.get("more_body", False):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        ErrorKind.CALLER_INVALID_REQUEST, f"the request body exceeds {limit} bytes", status=413
    )
