"""Who is calling: the key in the request headers (Bearer or x-api-key), checked against the key
cache (user keys) or the admin keys. User keys may not manage keys (403); admin keys may not run
inference (they are not user keys, so the inference routes answer 401 for them). A disabled key
gets 401 on every route, admin routes included.

A key the cache does not know yet is looked up in the store once (`KeyCache.resolve`, bounded), so
these checks are coroutines; a known key costs no more than a dictionary lookup."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from turnout.core.catalog.pricing import money
from turnout.core.money.keys import AdminKeys, KeyCache, KeyState
from turnout.model.errors import ErrorKind, GatewayError

ADMIN_ONLY = "Only management keys can perform this operation"


def clear_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or None


async def authenticate(headers: Mapping[str, str], keys: KeyCache, *, check_limit: bool = True) -> KeyState:
    token = clear_key(headers)
    if token is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Missing Authentication header")
    state = await keys.resolve(token)
    if state is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Invalid API key")
    if state.disabled:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "This API key is disabled")
    if check_limit and state.limit is not None:
        remaining = state.remaining(time.time())
        if remaining is not None and remaining <= 0:
            raise GatewayError(
                ErrorKind.POLICY_BUDGET_EXCEEDED,
                f"Insufficient credits: this key has reached its limit of ${money(state.limit)}",
                metadata={"limit": money(state.limit), "usage": money(state.limit_usage(time.time())),
                          "reserved": money(state.reserved)},
            )
    return state


@dataclass(slots=True)
class Caller:
    key: KeyState | None  # None for an admin key
    admin: bool


async def identify(headers: Mapping[str, str], keys: KeyCache, admin: AdminKeys) -> Caller:
    """A user key or an admin key (for routes that answer both, scoped differently)."""
    token = clear_key(headers)
    if token is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Missing Authentication header")
    if admin.is_admin(token):
        return Caller(None, True)
    return Caller(await authenticate(headers, keys, check_limit=False), False)


async def require_admin(headers: Mapping[str, str], keys: KeyCache, admin: AdminKeys) -> None:
    token = clear_key(headers)
    if token is None:
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Missing Authentication header")
    if admin.is_admin(token):
        return
    state = await keys.resolve(token)
    if state is not None and state.disabled:  # 401 as everywhere: a 403 would confirm the key exists
        raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "This API key is disabled")
    if state is not None:
        raise GatewayError(ErrorKind.POLICY_FORBIDDEN, ADMIN_ONLY)
    if not admin:
        raise GatewayError(ErrorKind.POLICY_FORBIDDEN,
                           f"{ADMIN_ONLY}; none is configured: set TURNOUT_ADMIN_KEY or run `turnout admin-key`")
    raise GatewayError(ErrorKind.POLICY_AUTH_FAILED, "Invalid API key")
