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

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.account import _json, iso, key_json
from turnout.api.admin_wire import CreditsBody, KeyCreateBody, KeyUpdateBody
from turnout.api.auth import require_admin
from turnout.api.openai.encode import cost_number
from turnout.api.wire import convert
from turnout.core.catalog.pricing import usd
from turnout.core.money.keys import hash_key, load_secret, mint_key
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.runtime import Runtime
from turnout.store.base import DEFAULT_ACCOUNT, KeyExists, KeyRecord

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


def parse_key_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The settable fields of a key, decoded into the declared types (api/admin_wire.py) and checked."""
    w: KeyCreateBody | KeyUpdateBody = convert(body, KeyCreateBody) if creating else convert(body, KeyUpdateBody)
    out: dict[str, Any] = {}
    if w.name is not UNSET:
        out["name"] = label_text(w.name, "name", required=True)
    if w.limit is not UNSET:
        try:
            out["limit"] = None if w.limit is None else usd(w.limit)
        except ValueError as exc:
            raise invalid("limit", f"'limit' {exc} (or null for no limit)") from None
    if w.limit_reset is not UNSET:
        out["limit_reset"] = None if w.limit_reset in (None, "none", "never") else w.limit_reset
    if w.disabled is not UNSET:
        out["disabled"] = w.disabled
    if w.rate_limit_rpm is not UNSET:
        out["rate_limit_rpm"] = w.rate_limit_rpm
    if w.rate_limit_tpm is not UNSET:
        out["rate_limit_tpm"] = w.rate_limit_tpm
    if isinstance(w, KeyCreateBody) and w.account is not UNSET:
        out["account"] = label_text(w.account, "account", required=True)
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
    fields = parse_key_fields(await _body(request, rt), creating=True)
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
    fields = parse_key_fields(await _body(request, rt), creating=False)
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
    w = convert(await _body(request, rt), CreditsBody)
    try:
        amount = usd(w.amount, negative=True)
    except ValueError as exc:
        raise invalid("amount", f"'amount' {exc}") from None
    kind = w.kind
    if amount == 0 or (amount < 0 and kind != "adjustment"):
        raise invalid("amount", "'amount' must be positive (only an adjustment may be negative)")
    account = label_text(DEFAULT_ACCOUNT if w.account is UNSET else w.account, "account", required=True)
    note = None if w.note is None else label_text(w.note, "note", required=False, limit=1000)
    entry = await asyncio.to_thread(rt.store.add_credits, account, kind, amount, note, time.time())
    record = await asyncio.to_thread(rt.store.get_account, account)
    if record is not None:
        rt.ledger.apply([record])
    return _json({"data": {
        "id": entry.id, "account": entry.account_id, "kind": entry.kind, "amount": cost_number(entry.amount),
        "note": entry.note, "created_at": iso(entry.created_at),
        "total_credits": cost_number(rt.ledger.account(account).credits),
    }}, 201)
