"""Key changes are pushed through Redis pub/sub (core/money/key_push.py): a key disabled, re-limited,
deleted or created on one replica is seen by the others within 100 ms, far inside the polling
interval (0.5 s) that stays as the fallback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import Acct, settings_for, wait_until
from tests.conftest import Upstream
from tests.fakes.server import serve
from tests.unit.store.conftest import REDIS_URL, reachable
from turnout.app import create_app
from turnout.runtime import KEY_REFRESH_SECONDS

pytestmark = pytest.mark.redis
PUSH_MS = 100


APPS: dict[str, Any] = {}  # a replica's URL -> its app, to read its key cache without HTTP in between


@pytest.fixture
def pair(upstream: Upstream, tmp_path: Path) -> Iterator[tuple[Acct, Acct]]:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis")
    settings = settings_for(upstream, tmp_path / "shared", redis_url=REDIS_URL)
    app_a, app_b = create_app(settings), create_app(settings)
    with serve(app_a) as a, serve(app_b) as b:
        APPS.update({a: app_a, b: app_b})
        yield Acct(a, settings), Acct(b, settings)
        APPS.pop(a)
        APPS.pop(b)


def cached(acct: Acct, key_hash: str) -> Any:
    """The replica's own view of a key (what its next request is decided on), or None."""
    return APPS[acct.url].state.runtime.keys.get(key_hash)


def seen_within(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until `check()` holds (it is polled back to back), or fails past `seconds`."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > seconds:
            raise AssertionError(f"not seen within {seconds * 1000:.0f} ms")
        time.sleep(0.001)  # the replicas share this process (and its GIL) with the polling
    return time.perf_counter() - start


def test_key_changes_reach_the_other_replica_within_100_ms(pair: tuple[Acct, Acct]) -> None:
    """Measured on the other replica's key cache (what its next request is decided on); the HTTP
    answers agree at the end."""
    a, b = pair
    assert KEY_REFRESH_SECONDS >= 5 * PUSH_MS / 1000  # polling alone could not pass this test five times
    created = a.call("POST", "/keys", json={"name": "pushed"}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    times = [seen_within(lambda: cached(b, key_hash) is not None, PUSH_MS / 1000)]  # created: pushed too
    for _ in range(3):
        assert a.call("PATCH", f"/keys/{key_hash}", json={"disabled": True}).status_code == 200
        times.append(seen_within(lambda: cached(b, key_hash).disabled, PUSH_MS / 1000))
        assert b.call("GET", "/key", key).status_code == 401
        assert b.call("PATCH", f"/keys/{key_hash}", json={"disabled": False}).status_code == 200
        times.append(seen_within(lambda: not cached(a, key_hash).disabled, PUSH_MS / 1000))
        assert a.call("GET", "/key", key).status_code == 200
    assert a.call("PATCH", f"/keys/{key_hash}", json={"limit": 7}).status_code == 200
    times.append(seen_within(lambda: cached(b, key_hash).limit == 7, PUSH_MS / 1000))
    assert b.call("GET", "/key", key).json()["data"]["limit"] == 7
    assert a.call("DELETE", f"/keys/{key_hash}").status_code == 200
    times.append(seen_within(lambda: cached(b, key_hash) is None, PUSH_MS / 1000))
    assert b.call("GET", "/key", key).status_code == 401
    assert max(times) < PUSH_MS / 1000, times


def test_a_malformed_message_is_ignored(pair: tuple[Acct, Acct]) -> None:
    """Anyone who can publish on the channel cannot crash the listener; later changes still arrive."""
    import redis

    from turnout.core.money.keys import load_secret
    from turnout.runtime import key_channel

    a, b = pair
    channel = key_channel(load_secret(a.settings.data_dir))
    with redis.Redis.from_url(REDIS_URL) as r:
        r.publish(channel, b"not json")
        r.publish(channel, b'{"hash": 1}')
    created = a.call("POST", "/keys", json={"name": "after-garbage"}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    wait_until(lambda: httpx.get(f"{b.api}/key", headers={"authorization": f"Bearer {key}"}).status_code == 200)
    a.call("PATCH", f"/keys/{key_hash}", json={"disabled": True})
    seen_within(lambda: httpx.get(f"{b.api}/key", headers={"authorization": f"Bearer {key}"}).status_code == 401,
                PUSH_MS / 1000)


def test_turnout_keys_disable_is_pushed_to_running_replicas(pair: tuple[Acct, Acct]) -> None:
    import os
    import subprocess
    import sys

    a = pair[0]
    key = a.call("POST", "/keys", json={"name": "cli-pushed"}).json()["key"]
    for acct in pair:
        wait_until(lambda acct=acct: httpx.get(f"{acct.api}/key", headers={"authorization": f"Bearer {key}"}).status_code == 200)
    env = {**os.environ, "TURNOUT_DATA_DIR": str(a.settings.data_dir), "TURNOUT_REDIS_URL": REDIS_URL,
           "TURNOUT_CATALOG_DATASET": "0"}
    env.pop("TURNOUT_CONFIG", None)
    env.pop("TURNOUT_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "turnout", "keys", "disable", "cli-pushed"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for acct in pair:
        seen_within(lambda acct=acct: httpx.get(f"{acct.api}/key",
                                                headers={"authorization": f"Bearer {key}"}).status_code == 401,
                    PUSH_MS / 1000)
