"""Key management and credits for admin (management) keys, in the shapes of OpenRouter's API.

    GET    /keys?offset=&include_disabled=     {data: [Key]}, 100 a page
    POST   /keys                               201 {data: Key, key: "sk-tn-v1-..."}  (the clear key, once)
    GET    /keys/{hash}                        {data: Key}
    PATCH  /keys/{hash}                        {data: Key}
    DELETE /keys/{hash}                        {deleted: true}
    POST   /credits                            201 {data: LedgerEntry}  (a grant, purchase or adjustment)

Every route refuses user keys with 403. Writes go to the store (in a worker thread) and are
applied to this process's caches at once; other processes pick them up within a second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from turnout.api.account import _json, iso, key_json
from turnout.api.auth import require_admin
from turnout.api.openai.encode import cost_number
from turnout.core.keys import hash_key, load_secret, mint_key
from turnout.core.pricing import usd
from turnout.core.ratelimit import MAX_RATE
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.runtime import Runtime
from turnout.store.base import CREDIT_KINDS, DEFAULT_ACCOUNT, LIMIT_RESETS, KeyExists, KeyRecord

PAGE = 100


async def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    await require_admin(request.headers, rt.keys, rt.admin)
    return rt


async def _body(request: Request, rt: Runtime) -> Any:
    """A management body: a few fields, so the small limit (after `_runtime` checked the admin key)."""
    return await rt.bodies.json(request, rt.settings.max_small_body_bytes)


def _not_found(key_hash: str) -> GatewayError:
    return GatewayError(ErrorKind.ROUTING_NO_ENDPOINT, f"no key with hash {key_hash}", status=404)


def _conflict(exc: KeyExists) -> GatewayError:
    return GatewayError(ErrorKind.CALLER_INVALID_REQUEST, str(exc), status=409)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, "the request body must be a JSON object")
    return body


def parse_key_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The settable fields of a key, validated; unknown fields are refused so typos do not pass silently."""
    allowed = {"name", "limit", "limit_reset", "disabled", "rate_limit_rpm", "rate_limit_tpm", "include_byok_in_limit"}
    if creating:
        allowed |= {"account", "expires_at", "creator_user_id", "workspace_id"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(unknown[0], f"unknown field {unknown[0]!r}")
    out: dict[str, Any] = {}
    if "name" in body or creating:
        out["name"] = label_text(body.get("name"), "name", required=True)
    if "limit" in body:
        limit = body["limit"]
        if limit is not None:
            try:
                limit = usd(limit)
            except ValueError as exc:
                raise invalid("limit", f"'limit' {exc} (or null for no limit)") from None
        out["limit"] = limit
    if "limit_reset" in body:
        reset = body["limit_reset"]
        if reset in (None, "none", "never"):
            reset = None
        elif reset not in LIMIT_RESETS:
            raise invalid("limit_reset", "'limit_reset' must be one of daily, weekly, monthly, none")
        out["limit_reset"] = reset
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise invalid("disabled", "'disabled' must be a boolean")
        out["disabled"] = body["disabled"]
    for field in ("rate_limit_rpm", "rate_limit_tpm"):
        if field in body:
            v = body[field]
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_RATE):
                raise invalid(field, f"'{field}' must be an integer from 0 (unlimited) to {MAX_RATE:,}, or null (the default)")
            out[field] = v
    if creating and "account" in body:
        out["account"] = label_text(body["account"], "account", required=True)
    return out


def label_text(value: Any, name: str, *, required: bool, limit: int = 200) -> str:
    """A name, an account id or a note: a string of printable characters (no newlines or terminal
    escapes that would garble `turnout keys list`), at most `limit` long."""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise invalid(name, f"'{name}' must be a {'non-empty ' if required else ''}string of at most {limit} characters")
    if not value.isprintable():
        raise invalid(name, f"'{name}' must not contain control characters")
    return value.strip()


async def list_keys(request: Request) -> Response:
    rt = await _runtime(request)
    q = request.query_params
    try:
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise invalid("offset", "'offset' must be an integer") from None
    include_disabled = q.get("include_disabled", "false").lower() in ("1", "true", "yes")
    records = await asyncio.to_thread(rt.store.list_keys)
    if not include_disabled:
        records = [r for r in records if not r.disabled]
    page = records[max(offset, 0): max(offset, 0) + PAGE]
    return _json({"data": [key_json(rt, r, rt.keys.get(r.hash)) for r in page]})


async def create_key(request: Request) -> Response:
    rt = await _runtime(request)
    fields = parse_key_fields(_object(await _body(request, rt)), creating=True)
    clear, label = mint_key()
    key_hash = hash_key(load_secret(rt.settings.data_dir), clear)
    try:
        record = await asyncio.to_thread(
            rt.store.create_key, key_hash, fields["name"], label, fields.get("limit"), time.time(),
            account_id=fields.get("account", DEFAULT_ACCOUNT), limit_reset=fields.get("limit_reset"),
            rate_limit_rpm=fields.get("rate_limit_rpm"), rate_limit_tpm=fields.get("rate_limit_tpm"),
        )
        if fields.get("disabled"):
            changed = await asyncio.to_thread(rt.store.update_key, key_hash, {"disabled": True}, time.time())
            record = changed or record
    except KeyExists as exc:
        raise _conflict(exc) from None
    rt.keys.apply([record])
    rt.key_changed(record)
    return _json({"data": key_json(rt, record, rt.keys.get(key_hash)), "key": clear}, 201)


async def _get_record(rt: Runtime, key_hash: str) -> KeyRecord:
    record = await asyncio.to_thread(rt.store.get_key, key_hash)
    if record is None:
        raise _not_found(key_hash)
    return record


async def get_key(request: Request) -> Response:
    rt = await _runtime(request)
    record = await _get_record(rt, request.path_params["hash"])
    return _json({"data": key_json(rt, record, rt.keys.get(record.hash))})


async def update_key(request: Request) -> Response:
    rt = await _runtime(request)
    key_hash = request.path_params["hash"]
    record: KeyRecord | None
    fields = parse_key_fields(_object(await _body(request, rt)), creating=False)
    fields.pop("include_byok_in_limit", None)
    try:
        if fields:
            record = await asyncio.to_thread(rt.store.update_key, key_hash, fields, time.time())
        else:
            record = await _get_record(rt, key_hash)
    except KeyExists as exc:
        raise _conflict(exc) from None
    if record is None:
        raise _not_found(key_hash)
    rt.keys.apply([record])
    if fields:
        rt.key_changed(record)
    return _json({"data": key_json(rt, record, rt.keys.get(key_hash))})


async def delete_key(request: Request) -> Response:
    rt = await _runtime(request)
    key_hash = request.path_params["hash"]
    if not await asyncio.to_thread(rt.store.delete_key, key_hash, time.time()):
        raise _not_found(key_hash)
    deleted = await asyncio.to_thread(rt.store.keys_changed_since, time.time() - 5)
    gone = [r for r in deleted if r.hash == key_hash]
    rt.keys.apply(gone)
    for record in gone:
        rt.key_changed(record)
    return _json({"deleted": True})


async def add_credits(request: Request) -> Response:
    """Record credits for an account: {amount, kind: grant|purchase|adjustment, account?, note?}."""
    rt = await _runtime(request)
    body = _object(await _body(request, rt))
    unknown = sorted(set(body) - {"amount", "kind", "account", "note"})
    if unknown:
        raise invalid(unknown[0], f"unknown field {unknown[0]!r}")
    try:
        amount = usd(body.get("amount"), negative=True)
    except ValueError as exc:
        raise invalid("amount", f"'amount' is required and {exc}") from None
    kind = body.get("kind", "grant")
    if kind not in CREDIT_KINDS:
        raise invalid("kind", "'kind' must be one of grant, purchase, adjustment")
    if amount == 0 or (amount < 0 and kind != "adjustment"):
        raise invalid("amount", "'amount' must be positive (only an adjustment may be negative)")
    account = label_text(body.get("account", DEFAULT_ACCOUNT), "account", required=True)
    note = body.get("note")
    if note is not None:
        note = label_text(note, "note", required=False, limit=1000)
    entry = await asyncio.to_thread(rt.store.add_credits, account, kind, amount, note, time.time())
    record = await asyncio.to_thread(rt.store.get_account, account)
    if record is not None:
        rt.ledger.apply([record])
    return _json({"data": {
        "id": entry.id, "account": entry.account_id, "kind": entry.kind, "amount": cost_number(entry.amount),
        "note": entry.note, "created_at": iso(entry.created_at),
        "total_credits": cost_number(rt.ledger.account(account).credits),
    }}, 201)
