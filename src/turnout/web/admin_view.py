"""The admin console (`/admin`): keys, accounts and credits, providers with live health, and the
effective configuration, for whoever holds the admin key.

The page itself is a static shell (no data in it); admin.js asks for the admin key once, keeps it
in the browser's sessionStorage (gone when the tab closes, never in a URL) and calls the admin API
(`/api/v1/keys`, `/api/v1/credits`) and this module's JSON route, `/ui/api/admin`, with it in an
`Authorization` header. Everything shown is rendered with `textContent`: a key's name or an
upstream error cannot inject markup.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import require_admin
from turnout.api.openai.encode import cost_number
from turnout.config_check import effective
from turnout.runtime import Runtime

LEDGER_ROWS = 50
MAX_ENDPOINTS = 500  # the console lists configured and built-in endpoints, not the whole dataset


def render_admin_page() -> str:
    return """<h1>Admin console</h1>
<form id="login" class="admin-login" autocomplete="off">
  <span id="login-fields" class="admin-login"><label>Admin key <input id="admin-key" type="password" autocomplete="off"
    spellcheck="false" placeholder="sk-tn-admin-..."></label>
  <button type="submit">Open</button></span>
  <button type="button" id="logout" class="ghost" hidden>Forget the key</button>
  <p class="hint">Kept in this tab only (sessionStorage), sent only to this gateway in an Authorization header.</p>
  <p id="admin-error" class="error" role="alert" hidden></p>
</form>
<div id="console" hidden>
<nav class="tabs" id="tabs">
  <button type="button" data-tab="keys" aria-selected="true">Keys</button>
  <button type="button" data-tab="accounts">Accounts</button>
  <button type="button" data-tab="providers">Providers</button>
  <button type="button" data-tab="config">Configuration</button>
</nav>
<section data-panel="keys">
  <h2>Create a key</h2>
  <form id="create-key" class="admin-form">
    <label>Name <input name="name" required maxlength="200"></label>
    <label>Limit (USD) <input name="limit" inputmode="decimal" placeholder="none"></label>
    <label>Resets <select name="limit_reset"><option value="none">never</option><option>daily</option>
      <option>weekly</option><option>monthly</option></select></label>
    <label>Account <input name="account" value="default" maxlength="200"></label>
    <label>Requests/min <input name="rate_limit_rpm" inputmode="numeric" placeholder="default"></label>
    <label>Tokens/min <input name="rate_limit_tpm" inputmode="numeric" placeholder="default"></label>
    <button type="submit">Create</button>
  </form>
  <div id="new-key" class="new-key" hidden>
    <p>The new key. It is shown once: copy it now.</p>
    <code id="new-key-value" data-testid="new-key"></code>
    <button type="button" id="copy-key" class="ghost small">Copy</button>
  </div>
  <h2>Keys</h2>
  <label class="inline"><input type="checkbox" id="show-disabled"> Show disabled keys</label>
  <div class="table-wrap"><table id="keys" class="admin"></table></div>
</section>
<section data-panel="accounts" hidden>
  <h2>Add credits</h2>
  <form id="add-credits" class="admin-form">
    <label>Account <input name="account" value="default" maxlength="200"></label>
    <label>Amount (USD) <input name="amount" required inputmode="decimal"></label>
    <label>Kind <select name="kind"><option>grant</option><option>purchase</option><option>adjustment</option></select></label>
    <label>Note <input name="note" maxlength="200"></label>
    <button type="submit">Add</button>
  </form>
  <h2>Accounts</h2>
  <div class="table-wrap"><table id="accounts" class="admin"></table></div>
  <h2>Ledger <small id="ledger-account"></small></h2>
  <div class="table-wrap"><table id="ledger" class="admin"></table></div>
</section>
<section data-panel="providers" hidden>
  <h2>Providers and endpoints</h2>
  <p class="hint">Live, from this process's traffic; refreshed every 5 seconds while shown.</p>
  <div class="table-wrap"><table id="endpoints" class="admin"></table></div>
</section>
<section data-panel="config" hidden>
  <h2>Effective configuration</h2>
  <p class="hint">Defaults, then the config file, then TURNOUT_* variables. Secrets are masked.</p>
  <pre id="config" class="config"></pre>
</section>
</div>"""


def _endpoints(rt: Runtime) -> list[dict[str, Any]]:
    health = rt.dispatcher.health
    recent = rt.observer.recent_errors
    now = time.time()
    out: list[dict[str, Any]] = []
    for model in rt.catalog.models.values():
        if model.origin == "dataset" and not any(health.seen(ep.key) for ep in model.endpoints):
            continue  # the dataset's thousands: shown once they have had traffic
        for ep in model.endpoints:
            ok, why = rt.dispatcher.availability(ep)
            snap = health.snapshot(ep.key)
            out.append({"model": model.id, "provider": ep.provider.slug, "provider_name": ep.provider.name,
                        "endpoint": ep.key, "available": ok, "why": why, **health.circuit(ep.key),
                        "blocked": health.blocked(ep.key), "uptime_30m": snap["uptime_last_30m"],
                        "requests_30m": snap["request_count"], "latency_30m": snap["latency_last_30m"],
                        "recent_errors": [{"ago": round(now - at, 1), "error": kind, "status": status}
                                          for at, kind, status in recent.get((model.id, ep.provider.slug), ())]})
            if len(out) >= MAX_ENDPOINTS:
                return out
    out.sort(key=lambda e: (e["requests_30m"] == 0, e["provider"], e["model"]))
    return out


def _accounts(rt: Runtime, ledger_of: str) -> dict[str, Any]:
    accounts = rt.store.list_accounts()
    entries = rt.store.ledger_entries(ledger_of, LEDGER_ROWS)
    return {
        "accounts": [{"id": a.id, "credits": cost_number(a.credits), "usage": cost_number(a.usage),
                      "balance": cost_number(a.balance)} for a in accounts],
        "ledger_account": ledger_of,
        "ledger": [{"id": e.id, "kind": e.kind, "amount": cost_number(e.amount), "key_hash": e.key_hash,
                    "generation_id": e.generation_id, "note": e.note, "created_at": e.created_at} for e in entries],
    }


async def admin_data(request: Request) -> Response:
    """GET /ui/api/admin?part=accounts|providers|config (admin key)."""
    rt: Runtime = request.app.state.runtime
    await require_admin(request.headers, rt.keys, rt.admin)
    part = request.query_params.get("part", "providers")
    data: dict[str, Any]
    if part == "accounts":
        account = request.query_params.get("account", "default")[:200]
        data = await asyncio.to_thread(_accounts, rt, account)
    elif part == "config":
        data = {"config": effective(rt.settings, rt.catalog)}
    else:
        data = {"endpoints": _endpoints(rt), "draining": rt.observer.draining}
    return Response(orjson.dumps(data, default=str), media_type="application/json",
                    headers={"cache-control": "no-store"})
