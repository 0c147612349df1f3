"""Finding the caller's key in the request headers (Bearer or x-api-key) and checking it."""

from __future__ import annotations

from collections.abc import Mapping

from turnout.core.keys import KeyCache, KeyState
from turnout.model.errors import ErrorKind, GatewayError


def clear_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or None


def authenticate(headers: Mapping[str, str], keys: KeyCache, *, check_limit: bool = True) -> KeyState:
    token = clear_key(headers)
    if token is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Missing Authentication header")
    state = keys.lookup(token)
    if state is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Invalid API key")
    if state.disabled:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "This API key is disabled")
    if check_limit and state.limit is not None and state.usage >= state.limit:
        raise GatewayError(
            ErrorKind.POLICY_BUDGET_EXCEEDED,
            f"This key has reached its limit of ${state.limit}",
            metadata={"limit": str(state.limit), "usage": str(state.usage)},
        )
    return state
