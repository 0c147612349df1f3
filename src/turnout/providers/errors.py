"""Classifying an upstream's error answer by its HTTP status, shared by every HTTP adapter.

Status first, always (Bifrost's rule); an adapter may refine with the provider's parsed error
type (Anthropic's `overloaded_error`). Free text is never searched for "rate limit". Whatever an
upstream wrote into an error is `bounded` before it is shown or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError

RAW_LIMIT = 2000  # characters of a non-JSON body kept in the error's metadata
MESSAGE_LIMIT = 2000  # characters of an upstream's error message kept
RAW_JSON_LIMIT = 64 << 10  # bytes of an error's JSON kept as JSON; bigger, it becomes a text excerpt


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM APIs; fall back to our own back-off


def decode_error_body(body: bytes) -> tuple[Any, str | None]:
    """The body as JSON if it is JSON (else a bounded text excerpt) and any message it carries."""
    if not body.strip():
        return None, None
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:RAW_LIMIT].decode("utf-8", "replace"), None
    message = None
    if isinstance(raw, dict):
        err = raw.get("error", raw)
        if isinstance(err, dict):
            m = err.get("message") or err.get("msg")
            message = m if isinstance(m, str) else None
        elif isinstance(err, str):
            message = err
    return raw, message


def classify(status: int) -> tuple[ErrorKind, FailureClass]:
    if status in (400, 413, 422):
        return ErrorKind.PROVIDER_INVALID_REQUEST, FailureClass.CALLER_FAULT
    if status in (401, 402, 403):
        return ErrorKind.PROVIDER_AUTH_FAILED, FailureClass.CREDENTIAL
    if status == 408:
        return ErrorKind.PROVIDER_TIMEOUT, FailureClass.TRANSIENT
    if status == 429:
        return ErrorKind.PROVIDER_RATE_LIMITED, FailureClass.RATE_LIMIT
    if status in (503, 529):
        return ErrorKind.PROVIDER_OVERLOADED, FailureClass.RATE_LIMIT
    if status == 504:
        return ErrorKind.PROVIDER_TIMEOUT, FailureClass.TRANSIENT
    return ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT


def upstream_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    provider: str,
    *,
    kind: ErrorKind | None = None,
) -> UpstreamError:
    """The standard classification of an error answer; `kind` lets an adapter refine it."""
    raw, message = decode_error_body(body)
    base_kind, failure = classify(status)
    kind = kind or base_kind
    if kind is ErrorKind.PROVIDER_OVERLOADED:
        failure = FailureClass.RATE_LIMIT
    if raw is None:
        text = f"{provider} returned HTTP {status} with an empty body"
    elif message is None and isinstance(raw, str):
        text = f"{provider} returned HTTP {status} with a non-JSON body"
    else:
        text = f"{provider} returned an error (HTTP {status}): {message or 'no message'}"
    return UpstreamError(
        kind,
        text,
        provider=provider,
        failure=failure,
        upstream_status=status,
        raw=raw,
        retry_after=retry_after_of(headers),
    )


def bounded(exc: GatewayError) -> GatewayError:
    """An error a client can be shown and a store can keep, whatever the upstream put in it: its
    message cut to `MESSAGE_LIMIT` characters, its raw body kept as JSON only when it is small and
    shallow enough to encode again (an encoder refuses deep nesting: that would be a 500 later)."""
    if len(exc.message) > MESSAGE_LIMIT:
        exc.message = exc.message[:MESSAGE_LIMIT] + "…"
        exc.args = (exc.message,)
    raw = exc.metadata.get("raw")
    if isinstance(raw, str):
        if len(raw) > RAW_LIMIT:
            exc.metadata["raw"] = raw[:RAW_LIMIT]
    elif raw is not None:
        try:
            text = orjson.dumps(raw)
        except (orjson.JSONEncodeError, TypeError):
            exc.metadata["raw"] = "(the upstream's error body is nested too deeply to show)"
        else:
            if len(text) > RAW_JSON_LIMIT:
                exc.metadata["raw"] = text[:RAW_LIMIT].decode("utf-8", "replace")
    return exc
