"""Rate limits over HTTP (in-memory and Redis counters), disabling a key from another process,
activity per day x model x provider, and app attribution."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.accounts.conftest import ADMIN, Acct, wait_until
from tests.unit.store.backends import ran
from tests.unit.store.conftest import REDIS_URL, reachable


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_requests_per_minute_answer_429_with_retry_after(start_gateway: Callable[..., Acct], backend: str) -> None:
    if backend == "redis":
        if not reachable(6379):
            pytest.skip("no Redis server at 127.0.0.1:6379")
        pytest.importorskip("redis", reason="the redis package is not installed: pip install '.[redis]'")
    acct = start_gateway(redis_url=REDIS_URL if backend == "redis" else None, rate_limit_rpm=1000)
    ran(backend)
    key = acct.call("POST", "/keys", json={"name": f"rl-{backend}", "rate_limit_rpm": 3}).json()["key"]
    statuses = [acct.chat(key, max_tokens=5).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = acct.chat(key, max_tokens=5)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 120
    assert r.json()["error"]["message"] == "Rate limit exceeded: this key may make 3 requests per minute"
    other = acct.call("POST", "/keys", json={"name": f"free-{backend}"}).json()["key"]
    assert acct.chat(other, max_tokens=5).status_code == 200  # the server default (1000) applies to others
    assert acct.call("GET", "/key", other).json()["data"]["rate_limit"]["requests"] == 1000


def test_tokens_per_minute(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway(rate_limit_tpm=30)
    key = acct.call("POST", "/keys", json={"name": "tpm"}).json()["key"]
    assert acct.chat(key, max_tokens=5, messages=[{"role": "user", "content": "word " * 40}]).status_code == 200
    r = wait_until_status(acct, key, 429)
    assert "30 tokens per minute" in r.json()["error"]["message"] and r.headers["retry-after"]


def wait_until_status(acct: Acct, key: str, status: int):  # type: ignore[no-untyped-def]
    found = []
    wait_until(lambda: found.append(acct.chat(key, max_tokens=5)) or found[-1].status_code == status, timeout=3)
    return found[-1]


def test_a_key_disabled_by_the_cli_is_refused_within_a_second(acct: Acct) -> None:
    key = acct.new_key("to-disable")
    wait_until(lambda: acct.chat(key, max_tokens=5).status_code == 200)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT_")}
    env["TURNOUT_DATA_DIR"] = str(acct.settings.data_dir)
    out = subprocess.run([sys.executable, "-m", "turnout", "keys", "disable", "to-disable"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    disabled_at = time.monotonic()  # the CLI has committed when it exits
    wait_until(lambda: acct.call("GET", "/key", key).status_code == 401, timeout=3, step=0.01)
    assert time.monotonic() - disabled_at < 1.0
    assert acct.chat(key).json()["error"]["message"] == "This API key is disabled"
    subprocess.run([sys.executable, "-m", "turnout", "keys", "enable", "to-disable"], env=env, check=True,
                   capture_output=True, timeout=60)
    wait_until(lambda: acct.chat(key, max_tokens=5).status_code == 200, timeout=3)


def test_activity_per_day_model_and_provider(acct: Acct) -> None:
    a = acct.call("POST", "/keys", json={"name": "act-a"}).json()["key"]
    b = acct.call("POST", "/keys", json={"name": "act-b"}).json()["key"]
    for _ in range(3):
        assert acct.chat(a, max_tokens=5).status_code == 200
    assert acct.chat(a, "test/reasoning", max_tokens=50).status_code == 200
    assert acct.chat(b, max_tokens=5).status_code == 200

    def rows(key: str) -> list[dict]:  # type: ignore[type-arg]
        return acct.call("GET", "/activity", key).json()["data"]

    wait_until(lambda: sum(r["requests"] for r in rows(a)) == 4)
    mine = {(r["model"], r["provider_name"]): r for r in rows(a)}
    assert set(mine) == {("test/echo", "Fake"), ("test/reasoning", "Fake")}
    echo = mine[("test/echo", "Fake")]
    assert echo["requests"] == 3 and echo["prompt_tokens"] > 0 and echo["usage"] > 0
    assert mine[("test/reasoning", "Fake")]["reasoning_tokens"] > 0
    assert echo["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    everyone = acct.call("GET", "/activity", ADMIN).json()["data"]
    echo_all = next(r for r in everyone if r["model"] == "test/echo")
    assert echo_all["requests"] >= 4  # the admin sees every key's requests
    assert acct.call("GET", "/activity?date=not-a-day", a).status_code == 400


def test_apps_ranked_by_tokens_for_a_model(acct: Acct) -> None:
    key = acct.call("POST", "/keys", json={"name": "apps"}).json()["key"]
    big = {"http-referer": "https://big.example", "x-title": "Big App"}
    small = {"http-referer": "https://small.example", "x-openrouter-title": "Small App"}
    for _ in range(3):
        acct.chat(key, "test/cached", max_tokens=5, headers=big,
                  messages=[{"role": "user", "content": "many words " * 30}])
    acct.chat(key, "test/cached", max_tokens=5, headers=small, messages=[{"role": "user", "content": "some words " * 5}])
    acct.chat(key, "test/cached", max_tokens=5, headers={"x-title": "Title Only"})
    acct.chat(key, "test/tools", max_tokens=5, headers=small)

    def apps(model: str) -> list[dict]:  # type: ignore[type-arg]
        return acct.call("GET", f"/apps?model={model}", key).json()["data"]

    wait_until(lambda: len(apps("test/cached")) == 3)
    ranked = apps("test/cached")
    assert [a["app"] for a in ranked] == ["https://big.example", "https://small.example", "Title Only"]
    assert ranked[0]["title"] == "Big App" and ranked[0]["requests"] == 3
    assert ranked[0]["total_tokens"] > ranked[1]["total_tokens"] > 0
    assert [a["app"] for a in apps("test/tools")] == ["https://small.example"]
    assert acct.call("GET", "/apps?limit=0", key).status_code == 400
    assert acct.call("GET", "/apps", "nope").status_code == 401
