"""Rendering a `GatewayError` in Anthropic's envelope: {"type": "error", "error": {"type", "message"}}.

Anthropic names its errors by type and answers with its own status codes
(https://docs.anthropic.com/en/api/errors): 400 invalid_request_error, 401 authentication_error,
402 billing_error, 403 permission_error, 404 not_found_error, 413 request_too_large,
429 rate_limit_error, 500 api_error, 504 timeout_error, 529 overloaded_error.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from turnout.model.errors import ErrorKind, GatewayError

# Kinds whose Anthropic rendering differs from the canonical status.
STATUS_OVERRIDES: dict[ErrorKind, int] = {
    ErrorKind.CALLER_MODEL_UNKNOWN: 404,  # Anthropic: 404 not_found_error "model: <id>"
    ErrorKind.PROVIDER_TIMEOUT: 504,
}
TYPE_OF_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_status(err: GatewayError) -> int:
    return STATUS_OVERRIDES.get(err.kind, err.status)


def anthropic_error_type(err: GatewayError) -> str:
    if err.kind is ErrorKind.PROVIDER_OVERLOADED:
        return "overloaded_error"
    status = anthropic_status(err)
    return TYPE_OF_STATUS.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(err: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(err), "message": err.message}}


def error_response(err: GatewayError) -> Response:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(1, round(err.retry_after)))
    if err.generation_id is not None:
        headers["x-generation-id"] = err.generation_id
        headers["request-id"] = err.generation_id
    return Response(orjson.dumps(error_body(err)), anthropic_status(err), headers, media_type="application/json")
