"""The OpenAPI paths of the accounts routes (keys, credits, activity, apps, generations), merged into
`GET /openapi.json` by api/openapi.py; their bodies are the types of api/admin_wire.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Op = Callable[..., dict[str, Any]]

FORBIDDEN = "A user key on an admin route (\"Only management keys can perform this operation\")"


def _admin(op: dict[str, Any]) -> dict[str, Any]:
    op["responses"]["403"] = {"description": FORBIDDEN, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def account_paths(op: Op) -> dict[str, Any]:
    key_hash = [{"name": "hash", "in": "path", "required": True, "schema": {"type": "string"}}]
    q = [{"name": n, "in": "query", "required": False, "schema": {"type": t}} for n, t in
         (("offset", "integer"), ("include_disabled", "boolean"))]
    missing = {404: "No such key"}
    return {
        "/api/v1/generation": {"get": op("One request's generation record", params=[
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}}], errors={404: "Not found"})},
        "/api/v1/key": {"get": op("The calling key's usage and limit")},
        "/api/v1/keys": {
            "get": _admin(op("List API keys (admin key)", params=q)),
            "post": _admin(op("Create an API key (admin key); the clear key is in the answer once", body="KeyCreate", errors={409: "A key with that hash exists"}, ok=201)),
        },
        "/api/v1/keys/{hash}": {
            "get": _admin(op("One API key (admin key)", params=key_hash, errors=missing)),
            "patch": _admin(op("Change an API key's name, limit, reset, rate limits or disabled flag", body="KeyUpdate",
                               params=key_hash, errors=missing)),
            "delete": _admin(op("Delete an API key (its records stay)", params=key_hash, errors=missing)),
        },
        "/api/v1/credits": {
            "get": op("The account's total credits and usage (an admin key: ?account=)", params=[
                {"name": "account", "in": "query", "required": False, "schema": {"type": "string"}}]),
            "post": _admin(op("Record a grant, purchase or adjustment of an account's credits (admin key)",
                              body="CreditEntry", ok=201)),
        },
        "/api/v1/activity": {"get": op(
            "Usage per day x model x provider, last 30 days: the calling key's, or every key's with an admin key",
            params=[{"name": "date", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
                    {"name": "api_key_hash", "in": "query", "required": False, "schema": {"type": "string"}}])},
        "/api/v1/apps": {"get": op("The apps (HTTP-Referer / X-Title) that used a model most, by tokens", params=[
            {"name": "model", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}])},
    }
