"""The OpenAPI paths of the accounts routes (keys, credits, activity, apps, generations, BYOK), merged
into `GET /openapi.json` by api/openapi.py; the key and credits bodies are the types of
api/admin_wire.py, the BYOK bodies are described here (`account_schemas`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.core.money.categories import CATEGORIES

Op = Callable[..., dict[str, Any]]

FORBIDDEN = "A user key on an admin route (\"Only management keys can perform this operation\")"


def _admin(op: dict[str, Any]) -> dict[str, Any]:
    op["responses"]["403"] = {"description": FORBIDDEN, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def account_paths(op: Op) -> dict[str, Any]:
    key_hash = [{"name": "hash", "in": "path", "required": True, "schema": {"type": "string"}}]
    byok_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    q = [{"name": n, "in": "query", "required": False, "schema": {"type": t}} for n, t in
         (("offset", "integer"), ("include_disabled", "boolean"))]
    missing = {404: "No such key"}
    no_byok = {404: "No such BYOK key"}
    return {
        "/api/v1/generation": {"get": op("One request's generation record", params=[
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}}], errors={404: "Not found"})},
        "/api/v1/key": {"get": op("The calling key's usage and limit")},
        "/api/v1/byok": {
            "get": _admin(op("List accounts' own provider keys (BYOK; admin key); never the key itself", params=[
                {"name": n, "in": "query", "required": False, "schema": {"type": t}} for n, t in
                (("account", "string"), ("provider", "string"), ("offset", "integer"), ("limit", "integer"))])),
            "post": _admin(op("Add a provider key to an account (BYOK; admin key): stored encrypted, answered 201 "
                              "with its masked label only", body="ByokCreate", ok=201)),
        },
        "/api/v1/byok/settings": {
            "get": _admin(op("An account's BYOK settings (admin key)", params=[
                {"name": "account", "in": "query", "required": False, "schema": {"type": "string"}}])),
            "patch": _admin(op("Set an account's include_byok_in_limit (admin key)", body="ByokSettings")),
        },
        "/api/v1/byok/{id}": {
            "get": _admin(op("One BYOK key (admin key)", params=byok_id, errors=no_byok)),
            "patch": _admin(op("Change a BYOK key's name, key, allow-lists, order or flags (admin key)",
                               body="ByokUpdate", params=byok_id, errors=no_byok)),
            "delete": _admin(op("Delete a BYOK key: its ciphertext is wiped (admin key)", params=byok_id, errors=no_byok)),
        },
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
            {"name": "category", "in": "query", "required": False, "description": "apps that sent this X-OpenRouter-Categories",
             "schema": {"type": "string", "enum": list(CATEGORIES)}},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}])},
    }


def account_schemas() -> dict[str, Any]:
    """The BYOK bodies (api/byok.py reads them by hand; the other bodies are wire types)."""
    names = {"type": ["array", "null"], "items": {"type": "string"}}
    byok_common = {
        "name": {"type": ["string", "null"]}, "allowed_models": names,
        "allowed_api_key_hashes": {**names, "description": "API key hashes of the account that may use it"},
        "is_fallback": {"type": "boolean", "description": "tried after the gateway's shared keys, not before"},
        "is_required": {"type": "boolean", "description": "always use this key: no shared key for this provider"},
        "is_byok_only": {"type": "boolean", "description": "same as is_required"},
        "disabled": {"type": "boolean"}, "sort_order": {"type": "integer"}}
    return {
        "ByokCreate": {"type": "object", "required": ["key", "provider"], "properties": {
            "key": {"type": "string", "writeOnly": True}, "provider": {"type": "string"},
            "account": {"type": "string", "description": "the account that owns the key (default: default)"},
            **byok_common}},
        "ByokUpdate": {"type": "object", "properties": {"key": {"type": "string", "writeOnly": True}, **byok_common}},
        "ByokSettings": {"type": "object", "required": ["include_byok_in_limit"], "properties": {
            "account": {"type": "string"}, "include_byok_in_limit": {"type": "boolean"}}},
    }
