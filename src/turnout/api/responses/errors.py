"""Rendering a `GatewayError` for the Responses API: {"error": {code, message, metadata, type, param}}.

OpenRouter answers its Responses API's errors in its own envelope (`code` is the HTTP status, as
its strict SDKs require), and OpenAI's SDK reads `message`, `type` and `param` from the same
object (https://platform.openai.com/docs/guides/error-codes), so the body carries both: OpenAI's
string code (e.g. `previous_response_not_found`) is in `metadata.code`. In a stream, a failure is
a `response.failed` event whose response carries `error: {code, message}` (see encode.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from turnout.model.errors import ErrorKind, GatewayError

TYPE_OF_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(err: GatewayError) -> str:
    return TYPE_OF_STATUS.get(err.status, "invalid_request_error" if err.status < 500 else "server_error")


def error_code(err: GatewayError) -> str:
    """The `code` of a streamed `response.failed` error: OpenAI's documented values where one fits."""
    if err.kind in (ErrorKind.PROVIDER_RATE_LIMITED, ErrorKind.POLICY_RATE_LIMITED):
        return "rate_limit_exceeded"
    if err.status < 500:
        return "invalid_prompt" if err.status == 400 else error_type(err)
    return "server_error"


def error_body(err: GatewayError) -> dict[str, Any]:
    code: Any = err.metadata.get("code") if isinstance(err.metadata.get("code"), str) else None
    return {"error": {"code": err.status, "message": err.message, "metadata": {**err.metadata, "code": code or err.kind.value},
                      "type": error_type(err), "param": err.param}}


def error_response(err: GatewayError) -> Response:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(1, round(err.retry_after)))
    if err.generation_id is not None:
        headers["x-generation-id"] = err.generation_id
    return Response(orjson.dumps(error_body(err)), err.status, headers, media_type="application/json")
