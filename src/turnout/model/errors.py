"""The closed vocabulary of failures, and the exceptions that carry them.

    GatewayError                 kind + HTTP status + message; rendered per dialect in api/
     └── UpstreamError           + provider, upstream status, raw body excerpt, failure class,
                                   and `detail`: what only logs and admins see (addresses)

`ErrorKind` says whose fault it was (the prefix names the domain); `FailureClass` is only for
core/upstream/dispatch.py to decide retry or fallback. Rendering lives in api/<dialect>/errors.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    CALLER_INVALID_REQUEST = "caller_invalid_request"
    CALLER_MODEL_UNKNOWN = "caller_model_unknown"
    CALLER_CANCELLED = "caller_cancelled"
    POLICY_AUTH_FAILED = "policy_auth_failed"
    POLICY_FORBIDDEN = "policy_forbidden"
    POLICY_RATE_LIMITED = "policy_rate_limited"
    POLICY_BUDGET_EXCEEDED = "policy_budget_exceeded"
    ROUTING_NO_ENDPOINT = "routing_no_endpoint"
    ROUTING_UNAVAILABLE = "routing_unavailable"
    PROVIDER_INVALID_REQUEST = "provider_invalid_request"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_OVERLOADED = "provider_overloaded"
    PROVIDER_SERVER_ERROR = "provider_server_error"
    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    PROVIDER_TLS_FAILED = "provider_tls_failed"  # the TLS handshake or certificate check failed
    PROVIDER_BAD_RESPONSE = "provider_bad_response"
    GATEWAY_INTERNAL = "gateway_internal"
    GATEWAY_OVERLOADED = "gateway_overloaded"  # a per-process bound on work in flight is reached


# The HTTP status a kind is answered with, as OpenRouter documents its error codes.
STATUS_OF: dict[ErrorKind, int] = {
    ErrorKind.CALLER_INVALID_REQUEST: 400,
    ErrorKind.CALLER_MODEL_UNKNOWN: 400,
    ErrorKind.CALLER_CANCELLED: 499,
    ErrorKind.POLICY_AUTH_FAILED: 401,
    ErrorKind.POLICY_FORBIDDEN: 403,
    ErrorKind.POLICY_RATE_LIMITED: 429,
    ErrorKind.POLICY_BUDGET_EXCEEDED: 402,
    ErrorKind.ROUTING_NO_ENDPOINT: 404,
    ErrorKind.ROUTING_UNAVAILABLE: 503,
    ErrorKind.PROVIDER_INVALID_REQUEST: 400,
    ErrorKind.PROVIDER_AUTH_FAILED: 502,
    ErrorKind.PROVIDER_RATE_LIMITED: 429,
    ErrorKind.PROVIDER_OVERLOADED: 503,
    ErrorKind.PROVIDER_SERVER_ERROR: 502,
    ErrorKind.PROVIDER_TIMEOUT: 408,
    ErrorKind.PROVIDER_UNREACHABLE: 502,
    ErrorKind.PROVIDER_TLS_FAILED: 502,
    ErrorKind.PROVIDER_BAD_RESPONSE: 502,
    ErrorKind.GATEWAY_INTERNAL: 500,
    ErrorKind.GATEWAY_OVERLOADED: 503,
}


class FailureClass(StrEnum):
    """How dispatch treats an upstream failure: try elsewhere, or give the caller the answer."""

    TRANSIENT = "transient"  # 5xx, timeouts, connect errors, bad bodies: try the next endpoint
    RATE_LIMIT = "rate_limit"  # 429/529: try the next endpoint, honour Retry-After on this one
    CREDENTIAL = "credential"  # our key for that provider is wrong: try the next endpoint
    CALLER_FAULT = "caller_fault"  # the request itself is bad: return it, never retry


class GatewayError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        metadata: dict[str, Any] | None = None,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status if status is not None else STATUS_OF[kind]
        self.metadata = metadata or {}
        self.retry_after = retry_after
        self.param = param
        self.generation_id: str | None = None  # set once the request has a generation record


class UpstreamError(GatewayError):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str,
        failure: FailureClass,
        upstream_status: int | None = None,
        raw: Any = None,
        retry_after: float | None = None,
        detail: str | None = None,
    ) -> None:
        metadata: dict[str, Any] = {"provider_name": provider, "error_type": kind.value}
        if raw is not None:
            metadata["raw"] = raw
        if upstream_status is not None:
            metadata["provider_status"] = upstream_status
        super().__init__(kind, message, metadata=metadata, retry_after=retry_after)
        self.provider = provider
        self.failure = failure
        self.upstream_status = upstream_status
        self.detail = detail  # never sent to a client: the upstream's host, address, the OS's words


def invalid(param: str, message: str) -> GatewayError:
    """A 400 that names the offending parameter."""
    return GatewayError(
        ErrorKind.CALLER_INVALID_REQUEST, message, param=param, metadata={"param": param}
    )
