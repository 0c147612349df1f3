"""Admin hardening: short admin keys are refused, limits and credits must be storable amounts, key
names print escaped in the CLI, and a disabled key gets 401 on every route (never a 403)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import Acct
from turnout.core.money.keys import hash_key, load_secret
from turnout.runtime import open_store
from turnout.settings import ConfigError, load_settings

SHORT = "admin-key-of-31-characters-xxxx"


def run_cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    environ.update(TURNOUT_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, "-m", "turnout", *args], env=environ, capture_output=True, text=True,
                          timeout=60)


def test_an_admin_key_shorter_than_32_characters_is_refused(tmp_path: Path) -> None:
    assert len(SHORT) == 31
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"TURNOUT_ADMIN_KEY": SHORT, "TURNOUT_DATA_DIR": str(tmp_path)})
    assert SHORT not in str(e.value) and "32" in str(e.value)
    config = tmp_path / "turnout.yaml"
    config.write_text(f"admin_key: {SHORT}\n")
    with pytest.raises(ConfigError):
        load_settings(config, env={})
    load_settings(None, env={"TURNOUT_ADMIN_KEY": SHORT + "y"})  # 32 is enough
    # the command refuses to start, and says why without echoing the key
    done = run_cli(tmp_path, "serve", "--port", "1", TURNOUT_ADMIN_KEY=SHORT)
    assert done.returncode == 2
    assert "admin_key must be at least 32 characters" in done.stderr and SHORT not in done.stderr


@pytest.mark.parametrize("limit", ["1e50000000", 1e300, "1e-50000000", "NaN", "-1", "Infinity", "1" * 100])
def test_limits_that_cannot_be_stored_are_a_400(acct: Acct, limit: object) -> None:
    r = acct.call("POST", "/keys", json={"name": f"huge-{time.monotonic_ns()}", "limit": limit})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["metadata"]["param"] == "limit" or "limit" in r.text
    key = acct.call("POST", "/keys", json={"name": f"ok-{time.monotonic_ns()}", "limit": "5"}).json()["data"]
    patched = acct.call("PATCH", f"/keys/{key['hash']}", json={"limit": limit})
    assert patched.status_code == 400, patched.text
    if limit != "-1":  # a negative adjustment is allowed
        credits = acct.call("POST", "/credits", json={"amount": limit, "kind": "adjustment"})
        assert credits.status_code == 400, credits.text
    listed = acct.call("GET", "/keys")
    assert listed.status_code == 200 and len(listed.content) < 1_000_000


def test_rates_and_names_that_cannot_be_stored_or_shown_are_a_400(acct: Acct) -> None:
    for body in ({"name": "rpm", "rate_limit_rpm": 2**63}, {"name": "tpm", "rate_limit_tpm": 10**12},
                 {"name": "line\nbreak"}, {"name": "esc\x1b[2J"}, {"name": "x" * 201},
                 {"name": "acct", "account": "a\x00b"}):
        r = acct.call("POST", "/keys", json=body)
        assert r.status_code == 400, (body, r.text)
    note = acct.call("POST", "/credits", json={"amount": 1, "note": "n" * 1001})
    assert note.status_code == 400
    assert acct.call("GET", "/keys").status_code == 200


def test_the_cli_prints_key_names_with_control_characters_escaped(tmp_path: Path) -> None:
    settings = load_settings(None, env={}, data_dir=tmp_path)
    store = open_store(settings)
    try:  # a name written before names were checked (or straight into the database)
        store.create_key(hash_key(load_secret(tmp_path), "sk-x"), "evil\n\x1b[2Jforged\tline", "l", None, time.time())
    finally:
        store.close()
    done = run_cli(tmp_path, "keys", "list")
    assert done.returncode == 0, done.stderr
    header, row, *rest = done.stdout.splitlines()  # a header row, then one line for the one key
    assert "\x1b" not in done.stdout and not rest and header.split()[0] == "NAME"
    assert row.startswith("evil\\n\\x1b[2Jforged\\tline ")
    refused = run_cli(tmp_path, "keys", "create", "--name", "bad\x1bname")
    assert refused.returncode == 2 and "\x1b" not in refused.stderr
    for args in (("--limit", "1e50000000"), ("--rpm", str(2**64))):
        refused = run_cli(tmp_path, "keys", "create", "--name", "big", *args)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr


def test_a_disabled_key_gets_401_everywhere(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway()
    created = acct.call("POST", "/keys", json={"name": "soon-disabled"}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    assert acct.call("GET", "/keys", key).status_code == 403  # live, but not an admin key
    assert acct.call("PATCH", f"/keys/{key_hash}", json={"disabled": True}).status_code == 200
    auth = {"authorization": f"Bearer {key}"}
    calls = [
        ("GET", "/api/v1/keys", None), ("POST", "/api/v1/keys", {"name": "x"}), ("GET", f"/api/v1/keys/{key_hash}", None),
        ("PATCH", f"/api/v1/keys/{key_hash}", {"disabled": False}), ("DELETE", f"/api/v1/keys/{key_hash}", None),
        ("POST", "/api/v1/credits", {"amount": 1}), ("GET", "/api/v1/credits", None), ("GET", "/api/v1/key", None),
        ("GET", "/api/v1/activity", None), ("GET", "/api/v1/apps", None), ("GET", "/api/v1/generation?id=gen-x", None),
        ("POST", "/api/v1/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": "x"}]}),
        ("POST", "/api/v1/messages", {"model": "test/echo", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        ("POST", "/api/v1/responses", {"model": "test/echo", "input": "x"}), ("GET", "/api/v1/responses/resp-x", None),
        ("POST", "/api/v1/completions", {"model": "test/echo", "prompt": "x"}),
        ("POST", "/api/v1/embeddings", {"model": "test/echo", "input": "x"}),
        ("POST", "/api/v1/messages/count_tokens", {"model": "test/echo", "messages": [{"role": "user", "content": "x"}]}),
        ("GET", "/ui/api/activity", None),
    ]
    for method, path, body in calls:
        r = httpx.request(method, f"{acct.url}{path}", json=body, headers=auth, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
    assert acct.call("GET", f"/keys/{key_hash}").json()["data"]["disabled"] is True  # nothing changed
