"""Rendering a `GatewayError` in the OpenAI/OpenRouter envelope: {"error": {code, message, metadata}}."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from turnout.model.errors import ErrorKind, GatewayError

# OpenRouter's `error_type` vocabulary, by the kind of failure.
ERROR_TYPES: dict[ErrorKind, str] = {
    ErrorKind.CALLER_INVALID_REQUEST: "invalid_request",
    ErrorKind.CALLER_MODEL_UNKNOWN: "invalid_request",
    ErrorKind.CALLER_CANCELLED: "unmapped",
    ErrorKind.POLICY_AUTH_FAILED: "authentication",
    ErrorKind.POLICY_FORBIDDEN: "permission_denied",
    ErrorKind.POLICY_RATE_LIMITED: "rate_limit_exceeded",
    ErrorKind.POLICY_BUDGET_EXCEEDED: "payment_required",
    ErrorKind.ROUTING_NO_ENDPOINT: "not_found",
    ErrorKind.ROUTING_UNAVAILABLE: "provider_unavailable",
    ErrorKind.PROVIDER_INVALID_REQUEST: "invalid_request",
    ErrorKind.PROVIDER_AUTH_FAILED: "provider_unavailable",
    ErrorKind.PROVIDER_RATE_LIMITED: "rate_limit_exceeded",
    ErrorKind.PROVIDER_OVERLOADED: "provider_overloaded",
    ErrorKind.PROVIDER_SERVER_ERROR: "provider_unavailable",
    ErrorKind.PROVIDER_TIMEOUT: "timeout",
    ErrorKind.PROVIDER_UNREACHABLE: "provider_unavailable",
    ErrorKind.PROVIDER_TLS_FAILED: "provider_unavailable",
    ErrorKind.PROVIDER_BAD_RESPONSE: "provider_unavailable",
    ErrorKind.GATEWAY_INTERNAL: "server",
}


def error_type(err: GatewayError) -> str:
    return ERROR_TYPES.get(err.kind, "unmapped")


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {"code": err.status, "message": err.message, "metadata": err.metadata or None}}


def error_response(err: GatewayError) -> Response:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(1, round(err.retry_after)))
    if err.generation_id is not None:
        headers["x-generation-id"] = err.generation_id
    return Response(orjson.dumps(error_body(err)), err.status, headers, media_type="application/json")
