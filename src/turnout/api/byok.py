"""The `/byok` management API (admin key): an account's own provider keys, in OpenRouter's shapes.

`GET /byok` (`?account=`, `provider`, `offset`, `limit`), `POST /byok` (201), `GET`, `PATCH`
and `DELETE /byok/{id}`, and `GET`/`PATCH /byok/settings` for the account's
`include_byok_in_limit`. The clear key is taken on create (and on a `PATCH` that replaces it),
encrypted at once (core/money/byok.py) and never returned: answers carry only its masked `label`.
Each change reaches this process's memory at once and other replicas at their next refresh.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin import label_text
from turnout.api.auth import require_admin
from turnout.core.money.byok import mask
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.store.base import DEFAULT_ACCOUNT, ByokRecord

MAX_KEY_CHARS = 8192  # a provider key (some are JSON service-account documents)
MAX_LIST = 256  # entries of allowed_models / allowed_api_key_hashes
FIELDS = {"key", "provider", "account", "name", "allowed_models", "allowed_api_key_hashes", "allowed_user_ids",
          "is_fallback", "is_required", "is_byok_only", "disabled", "sort_order", "declared_region", "declared_zdr",
          "workspace_id"}


def _json(obj: object, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def wire(r: ByokRecord) -> dict[str, Any]:
    """OpenRouter's `BYOKKey`, plus turnout's `account` and `name`; never the key."""
    return {
        "id": r.id, "provider": r.provider, "label": r.label, "name": r.name, "account": r.account_id,
        "allowed_api_key_hashes": r.allowed_keys, "allowed_models": r.allowed_models, "allowed_user_ids": None,
        "created_at": datetime.fromtimestamp(r.created_at, UTC).isoformat().replace("+00:00", "Z"),
        "declared_region": None, "declared_zdr": None, "disabled": r.disabled,
        "is_byok_only": r.is_required, "is_fallback": r.is_fallback, "is_required": r.is_required,
        "sort_order": r.sort_order, "workspace_id": None,
    }


async def _runtime(request: Request) -> Any:
    rt = request.app.state.runtime
    await require_admin(request.headers, rt.keys, rt.admin)
    return rt


async def _body(request: Request) -> dict[str, Any]:
    rt = request.app.state.runtime
    # A few fields: the small limit and the body budget, as every management body (api/body.py).
    body = await rt.bodies.json(request, rt.settings.max_small_body_bytes)
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise invalid(unknown[0], f"unknown field {unknown[0][:64]!r}")
    return body


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(name, f"'{name}' must be a boolean")
    return value


def _names(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if (not isinstance(value, list) or not value or len(value) > MAX_LIST
            or not all(isinstance(v, str) and 0 < len(v) <= 256 and v.isprintable() for v in value)):
        raise invalid(name, f"'{name}' must be null or a non-empty array of at most {MAX_LIST} names")
    return list(dict.fromkeys(value))


def _clear_key(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_CHARS or "\n" in value.strip():
        raise invalid("key", f"'key' must be a non-empty single-line string of at most {MAX_KEY_CHARS} characters")
    return value.strip()


def _apply(rt: Any, record: ByokRecord, body: dict[str, Any]) -> None:
    """The changes a create or update body asks for, checked."""
    if "name" in body:
        record.name = None if body["name"] is None else label_text(body["name"], "name", required=False)
    for wire_name, attr in (("allowed_models", "allowed_models"), ("allowed_api_key_hashes", "allowed_keys")):
        if wire_name in body:
            setattr(record, attr, _names(body, wire_name))
    for name in ("is_fallback", "is_required", "disabled"):
        value = _flag(body, name)
        if value is not None:
            setattr(record, name, value)
    if _flag(body, "is_byok_only"):
        record.is_required = True
    if "sort_order" in body:
        order = body["sort_order"]
        if not isinstance(order, int) or isinstance(order, bool) or not -1_000_000 <= order <= 1_000_000:
            raise invalid("sort_order", "'sort_order' must be an integer")
        record.sort_order = order
    if record.is_fallback and record.is_required:
        raise invalid("is_fallback", "a fallback key cannot also be required (is_required / is_byok_only)")
    if body.get("key") is not None:
        clear = _clear_key(body["key"])
        record.secret, record.label = rt.byok.vault.seal(record.id, clear), mask(clear)


async def list_byok(request: Request) -> Response:
    rt = await _runtime(request)
    q = request.query_params
    account = q.get("account")
    try:
        offset = max(int(q.get("offset") or 0), 0)
        limit = min(max(int(q.get("limit") or 50), 1), 500)
    except ValueError:
        raise invalid("limit", "offset and limit are integers") from None
    records = await asyncio.to_thread(rt.store.list_byok, account)
    if q.get("provider"):
        records = [r for r in records if r.provider == q["provider"]]
    return _json({"data": [wire(r) for r in records[offset:offset + limit]], "total_count": len(records)})


async def create_byok(request: Request) -> Response:
    rt = await _runtime(request)
    body = await _body(request)
    provider = body.get("provider")
    if not isinstance(provider, str) or provider not in rt.catalog.providers:
        raise invalid("provider", "'provider' must be the slug of a provider in the catalog")
    if body.get("key") is None:
        raise invalid("key", "'key' is required")
    account = label_text(body.get("account", DEFAULT_ACCOUNT), "account", required=True)
    now = time.time()
    record = ByokRecord(str(uuid.uuid4()), account, provider, None, "", "", created_at=now, updated_at=now)
    _apply(rt, record, body)
    await asyncio.to_thread(rt.store.save_byok, record)
    await asyncio.to_thread(rt.byok.refresh)
    return _json({"data": wire(record)}, 201)


async def _record(rt: Any, request: Request) -> ByokRecord:
    record: ByokRecord | None = await asyncio.to_thread(rt.store.get_byok, request.path_params["id"])
    if record is None:
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, "BYOK key not found", status=404)
    return record


async def get_byok(request: Request) -> Response:
    rt = await _runtime(request)
    return _json({"data": wire(await _record(rt, request))})


async def update_byok(request: Request) -> Response:
    rt = await _runtime(request)
    body = await _body(request)
    for fixed in ("provider", "account"):
        if fixed in body:
            raise invalid(fixed, f"'{fixed}' cannot be changed: delete the key and create another")
    record = await _record(rt, request)
    _apply(rt, record, body)
    record.updated_at = max(time.time(), record.updated_at + 1e-6)
    await asyncio.to_thread(rt.store.save_byok, record)
    await asyncio.to_thread(rt.byok.refresh)
    return _json({"data": wire(record)})


async def delete_byok(request: Request) -> Response:
    rt = await _runtime(request)
    if not await asyncio.to_thread(rt.store.delete_byok, request.path_params["id"], time.time()):
        raise GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, "BYOK key not found", status=404)
    await asyncio.to_thread(rt.byok.refresh)
    return _json({"deleted": True})


async def byok_settings(request: Request) -> Response:
    """GET: the account's BYOK settings; PATCH {account?, include_byok_in_limit}: change them."""
    rt = await _runtime(request)
    if request.method == "PATCH":
        body = await request.app.state.runtime.bodies.json(request, rt.settings.max_small_body_bytes)
        if not isinstance(body, dict) or not isinstance(body.get("include_byok_in_limit"), bool):
            raise invalid("include_byok_in_limit", "'include_byok_in_limit' must be a boolean")
        account = label_text(body.get("account", DEFAULT_ACCOUNT), "account", required=True)
        await asyncio.to_thread(rt.store.set_byok_settings, account, body["include_byok_in_limit"], time.time())
        await asyncio.to_thread(rt.byok.refresh)
    else:
        account = label_text(request.query_params.get("account", DEFAULT_ACCOUNT), "account", required=True)
    return _json({"data": {"account": account, "include_byok_in_limit": rt.byok.include_in_limit(account)}})
