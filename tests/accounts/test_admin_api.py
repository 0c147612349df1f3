"""The key management API as an operator uses it: admin key, CRUD in OpenRouter's shapes, 403s."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

from tests.accounts.conftest import ADMIN, Acct, wait_until

KEY_FIELDS = {"hash", "name", "label", "disabled", "limit", "limit_remaining", "limit_reset", "include_byok_in_limit",
              "usage", "usage_daily", "usage_weekly", "usage_monthly", "created_at", "updated_at", "expires_at"}


def test_create_returns_the_clear_key_once(acct: Acct) -> None:
    r = acct.call("POST", "/keys", json={"name": "svc-a", "limit": 12.5, "limit_reset": "monthly"})
    assert r.status_code == 201, r.text
    body = r.json()
    clear, data = body["key"], body["data"]
    assert clear.startswith("sk-tn-v1-") and KEY_FIELDS <= set(data)
    assert data["name"] == "svc-a" and data["limit"] == 12.5 and data["limit_remaining"] == 12.5
    assert data["limit_reset"] == "monthly" and data["usage"] == 0 and data["disabled"] is False
    assert data["label"].startswith("sk-tn-v1-") and clear not in r.text.replace(f'"key":"{clear}"', "")
    # the new key works at once in this process
    assert acct.chat(clear, max_tokens=10).status_code == 200
    listed = acct.call("GET", "/keys").json()["data"]
    assert any(k["hash"] == data["hash"] for k in listed)
    assert clear not in acct.call("GET", "/keys").text  # never shown again
    one = acct.call("GET", f"/keys/{data['hash']}").json()["data"]
    assert one["name"] == "svc-a" and one["usage"] > 0 and one["usage_monthly"] == one["usage"]


def test_patch_and_delete(acct: Acct) -> None:
    created = acct.call("POST", "/keys", json={"name": "svc-b"}).json()
    clear, key_hash = created["key"], created["data"]["hash"]
    r = acct.call("PATCH", f"/keys/{key_hash}", json={"name": "svc-b2", "limit": "0.5", "limit_reset": "daily"})
    assert r.status_code == 200 and r.json()["data"]["name"] == "svc-b2" and r.json()["data"]["limit"] == 0.5
    assert acct.call("PATCH", f"/keys/{key_hash}", json={"disabled": True}).json()["data"]["disabled"] is True
    r = acct.chat(clear)
    assert r.status_code == 401 and "disabled" in r.json()["error"]["message"]
    assert all(k["hash"] != key_hash for k in acct.call("GET", "/keys").json()["data"])
    assert any(k["hash"] == key_hash for k in acct.call("GET", "/keys?include_disabled=true").json()["data"])
    acct.call("PATCH", f"/keys/{key_hash}", json={"disabled": False})
    assert acct.chat(clear, max_tokens=5).status_code == 200
    assert acct.call("DELETE", f"/keys/{key_hash}").json() == {"deleted": True}
    assert acct.chat(clear).status_code == 401
    assert acct.call("GET", f"/keys/{key_hash}").status_code == 404
    assert acct.call("DELETE", f"/keys/{key_hash}").status_code == 404


def test_bad_bodies_are_400_or_409(acct: Acct) -> None:
    for body, param in [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "limit": -1}, "limit"),
                        ({"name": "x", "limit": True}, "limit"), ({"name": "x", "limit_reset": "hourly"}, "limit_reset"),
                        ({"name": "x", "disabled": "yes"}, "disabled"), ({"name": "x", "colour": 1}, "colour"),
                        ({"name": "x", "rate_limit_rpm": -2}, "rate_limit_rpm")]:
        r = acct.call("POST", "/keys", json=body)
        assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == param, (body, r.text)
    assert acct.call("POST", "/keys", content=b"[1,2]", headers={"content-type": "application/json"}).status_code == 400
    acct.call("POST", "/keys", json={"name": "dup"})
    r = acct.call("POST", "/keys", json={"name": "dup"})
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]


def test_user_keys_are_refused_on_admin_routes(acct: Acct) -> None:
    user = acct.new_key("plain-user")
    wait_until(lambda: acct.chat(user, max_tokens=5).status_code == 200)
    for method, path in [("GET", "/keys"), ("POST", "/keys"), ("GET", "/keys/abc"), ("PATCH", "/keys/abc"),
                         ("DELETE", "/keys/abc"), ("POST", "/credits")]:
        r = acct.call(method, path, user, json={"name": "sneaky"})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["message"].startswith("Only management keys can perform this operation")
        assert acct.call(method, path, "sk-tn-admin-v1-wrong").status_code == 401
        assert httpx_no_auth(acct, method, path) == 401
    # and the admin key is not a user key: it cannot run inference
    assert acct.chat(ADMIN).status_code == 401


def httpx_no_auth(acct: Acct, method: str, path: str) -> int:
    import httpx

    return httpx.request(method, f"{acct.api}{path}", timeout=10).status_code


def test_cli_admin_key_works_without_a_restart(acct: Acct) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    env["TURNOUT_DATA_DIR"] = str(acct.settings.data_dir)
    out = subprocess.run([sys.executable, "-m", "turnout", "admin-key"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    minted = out.stdout.strip().splitlines()[-1]
    assert minted.startswith("sk-tn-admin-v1-")
    assert minted not in (acct.settings.data_dir / "admin-keys").read_text()  # only its keyed hash is kept
    waited = wait_until(lambda: acct.call("GET", "/keys", minted).status_code == 200, timeout=3)
    assert waited < 1.5
    assert acct.call("GET", "/keys", ADMIN).status_code == 200  # the configured key still works


def test_get_key_reports_limits_and_rate_limits(acct: Acct) -> None:
    created = acct.call("POST", "/keys", json={"name": "svc-c", "limit": 1, "rate_limit_rpm": 100}).json()
    clear = created["key"]
    acct.chat(clear, max_tokens=10)
    data = acct.call("GET", "/key", clear).json()["data"]
    assert data["limit"] == 1 and Decimal(str(data["usage"])) > 0
    assert Decimal(str(data["limit_remaining"])) == 1 - Decimal(str(data["usage"]))
    assert data["rate_limit"]["requests"] == 100 and data["rate_limit"]["interval"] == "1m"
    assert data["is_management_key"] is False and data["label"] == created["data"]["label"]


def test_openapi_documents_the_accounts_routes(acct: Acct) -> None:
    doc = acct.call("GET", "/openapi.json").json()
    paths = doc["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/keys"]) and {"get", "patch", "delete"} <= set(paths["/api/v1/keys/{hash}"])
    assert "403" in paths["/api/v1/keys"]["post"]["responses"]
    for path in ("/api/v1/credits", "/api/v1/activity", "/api/v1/apps"):
        assert "get" in paths[path]
    schemas = doc["components"]["schemas"]
    create = schemas[schemas["KeyCreate"]["$ref"].rsplit("/", 1)[1]]
    assert create["required"] == ["name"] and create["additionalProperties"] is False
