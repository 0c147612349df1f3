"""Per-account provider keys (BYOK) over real sockets: managed with the official OpenRouter SDK's
`byok` calls, stored encrypted, used first (then the shared key unless required), billed at the
configured fee, and reported as `is_byok` with the upstream cost."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter

from tests.accounts.conftest import ADMIN
from tests.fakes.openai_upstream import UpstreamState
from tests.fakes.openai_upstream import create_app as create_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.money.byok import Vault, mask
from turnout.settings import Settings, load_settings

SHARED = "sk-shared-gateway-key-0001"
OWN = "sk-account-own-provider-key-7f3a9c"
PROMPT, COMPLETION = Decimal("0.001"), Decimal("0.002")


@dataclass
class Site:
    url: str
    settings: Settings
    state: UpstreamState

    def call(self, method: str, path: str, key: str = ADMIN, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"authorization": f"Bearer {key}"},
                             timeout=30, **kw)

    def chat(self, key: str, **body: Any) -> httpx.Response:
        return self.call("POST", "/chat/completions", key, json={
            "model": "byok/chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5, **body})

    def new_key(self, name: str, account: str, limit: float | None = None) -> str:
        r = self.call("POST", "/keys", json={"name": name, "account": account, "limit": limit})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["key"])

    def sent_key(self) -> str:
        return str(self.state.requests[-1]["headers"]["authorization"]).removeprefix("Bearer ")


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    state = UpstreamState()
    with serve(create_upstream(state)) as upstream:
        providers = {"prov": {"name": "Prov", "dialect": "openai", "base_url": f"{upstream}/v1", "api_key": SHARED}}
        models = {"byok/chat": {"context_length": 8192, "endpoints": [
            {"provider": "prov", "model": "echo", "pricing": {"prompt": str(PROMPT), "completion": str(COMPLETION)}}]}}
        settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("byok"), catalog_dataset=False,
                                 providers=providers, models=models, admin_key=ADMIN, byok_fee_percent="5")
        with serve(create_app(settings)) as url:
            yield Site(url, settings, state)


def list_cost(usage: dict[str, Any]) -> Decimal:
    return usage["prompt_tokens"] * PROMPT + usage["completion_tokens"] * COMPLETION


def test_an_accounts_own_key_is_used_first_billed_at_the_fee_and_reported(site: Site) -> None:
    mine, theirs = site.new_key("mine", "default"), site.new_key("theirs", "other")
    with OpenRouter(api_key=ADMIN, server_url=f"{site.url}/api/v1") as client:
        created = client.byok.create(key=OWN, provider="prov", name="team key")
        assert created.data.label == mask(OWN) and created.data.provider == "prov" and not created.data.is_required
        listed = client.byok.list()
        assert listed is not None and [k.id for k in listed.result.data] == [created.data.id]
        assert client.byok.get(id=created.data.id).data.label == "..." + OWN[-4:]
    raw = site.call("GET", "/byok").text
    assert OWN not in raw and OWN[-4:] in raw

    r = site.chat(mine)
    assert r.status_code == 200, r.text
    assert site.sent_key() == OWN
    usage = r.json()["usage"]
    upstream = list_cost(usage)
    assert usage["is_byok"] is True
    assert Decimal(str(usage["cost_details"]["upstream_inference_cost"])) == upstream
    assert Decimal(str(usage["cost"])) == upstream * 5 / 100
    rec = site.call("GET", "/generation", mine, params={"id": r.json()["id"]}).json()["data"]
    assert rec["is_byok"] is True and Decimal(str(rec["upstream_inference_cost"])) == upstream
    assert Decimal(str(rec["total_cost"])) == upstream * 5 / 100
    assert "BYOK" in rec["attempts"][0]["reason"]

    # another account's request: the gateway's shared key, full price, not BYOK
    r = site.chat(theirs)
    assert r.status_code == 200 and site.sent_key() == SHARED
    assert r.json()["usage"]["is_byok"] is False and r.json()["usage"]["cost_details"]["upstream_inference_cost"] is None
    assert Decimal(str(r.json()["usage"]["cost"])) == list_cost(r.json()["usage"])


def test_the_key_is_stored_encrypted_and_wiped_on_delete(site: Site) -> None:
    r = site.call("POST", "/byok", json={"key": OWN, "provider": "prov", "account": "team"})
    assert r.status_code == 201, r.text
    gid = r.json()["data"]["id"]
    db = sqlite3.connect(site.settings.sqlite_path)
    try:
        (secret,) = db.execute("SELECT secret FROM byok_keys WHERE id = ?", (gid,)).fetchone()
        assert OWN not in secret and OWN.encode() not in secret.encode()
    finally:
        db.close()
    vault = Vault((site.settings.data_dir / "key-secret").read_bytes())
    assert vault.open(gid, secret) == OWN
    assert vault.open("another-id", secret) is None  # bound to its record
    assert Vault(b"another installation").open(gid, secret) is None
    assert site.call("DELETE", f"/byok/{gid}").json() == {"deleted": True}
    assert site.call("GET", f"/byok/{gid}").status_code == 404
    db = sqlite3.connect(site.settings.sqlite_path)
    try:
        assert db.execute("SELECT secret FROM byok_keys WHERE id = ?", (gid,)).fetchone() == ("",)
    finally:
        db.close()


def test_a_failing_own_key_falls_back_to_the_shared_key_unless_required(site: Site) -> None:
    mine = site.new_key("mine", "default")
    gid = site.call("POST", "/byok", json={"key": OWN, "provider": "prov"}).json()["data"]["id"]
    site.state.api_key = SHARED  # the upstream refuses the account's key: 401
    r = site.chat(mine)
    assert r.status_code == 200 and site.sent_key() == SHARED
    assert r.json()["usage"]["is_byok"] is False
    rec = site.call("GET", "/generation", mine, params={"id": r.json()["id"]}).json()["data"]
    assert [(a["outcome"], a.get("is_byok", False)) for a in rec["attempts"]] == [("error", True), ("ok", False)]
    with OpenRouter(api_key=ADMIN, server_url=f"{site.url}/api/v1") as client:
        assert client.byok.update(id=gid, is_required=True).data.is_required
    r = site.chat(mine)
    assert r.status_code != 200 and site.sent_key() == OWN  # never the shared key
    with OpenRouter(api_key=ADMIN, server_url=f"{site.url}/api/v1") as client:
        client.byok.delete(id=gid)
    site.state.api_key = None
    assert site.chat(mine).status_code == 200 and site.sent_key() == SHARED


def test_byok_spend_counts_against_key_limits_only_when_the_account_says_so(site: Site) -> None:
    site.call("POST", "/byok", json={"key": OWN, "provider": "prov", "account": "incl"})
    site.call("POST", "/byok", json={"key": OWN, "provider": "prov", "account": "excl"})
    assert site.call("PATCH", "/byok/settings", json={"account": "incl", "include_byok_in_limit": True}).json() == {
        "data": {"account": "incl", "include_byok_in_limit": True}}
    incl, excl = site.new_key("incl", "incl", limit=0.05), site.new_key("excl", "excl", limit=0.05)
    assert site.call("GET", "/key", incl).json()["data"]["include_byok_in_limit"] is True
    assert site.call("GET", "/key", excl).json()["data"]["include_byok_in_limit"] is False
    statuses = {name: [site.chat(key).status_code for _ in range(4)] for name, key in (("incl", incl), ("excl", excl))}
    assert statuses["excl"] == [200] * 4  # only the 5 % fee counts: far below the limit
    assert statuses["incl"][0] == 200 and 402 in statuses["incl"]


def test_bad_byok_requests_are_400s_and_the_api_is_admin_only(site: Site) -> None:
    user = site.new_key("user", "default")
    assert site.call("GET", "/byok", user).status_code in (401, 403)
    for body in ({"provider": "prov"}, {"key": OWN, "provider": "nope"}, {"key": OWN, "provider": "prov", "bogus": 1},
                 {"key": OWN, "provider": "prov", "is_fallback": True, "is_required": True},
                 {"key": "", "provider": "prov"}, {"key": OWN, "provider": "prov", "allowed_models": "x"}):
        r = site.call("POST", "/byok", json=body)
        assert r.status_code == 400, (body, r.text)
        assert OWN not in r.text
    assert site.call("PATCH", "/byok/settings", json={"include_byok_in_limit": "yes"}).status_code == 400
    doc = httpx.get(f"{site.url}/api/v1/openapi.json").json()
    assert {"/api/v1/byok", "/api/v1/byok/{id}", "/api/v1/byok/settings"} <= set(doc["paths"])
