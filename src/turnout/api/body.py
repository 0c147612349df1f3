"""Reading a JSON request body with a size bound; bad bodies become 400/413 in the caller's dialect."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from turnout.model.errors import ErrorKind, GatewayError


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
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
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    if not body:
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, "the request body is empty; a JSON object is required")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, f"the request body is not valid JSON: {exc}") from None


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        ErrorKind.CALLER_INVALID_REQUEST, f"the request body exceeds {limit} bytes", status=413
    )
