"""Rendering a `GatewayError` in the OpenAI/OpenRouter envelope: {"error": {code, message, metadata}}."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from turnout.model.errors import GatewayError


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {"code": err.status, "message": err.message, "metadata": err.metadata or None}}


def error_response(err: GatewayError) -> Response:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(1, round(err.retry_after)))
    if err.generation_id is not None:
        headers["x-generation-id"] = err.generation_id
    return Response(orjson.dumps(error_body(err)), err.status, headers, media_type="application/json")
