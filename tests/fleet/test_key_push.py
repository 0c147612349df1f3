"""Key changes are pushed through Redis pub/sub (core/key_push.py): a key disabled, re-limited,
deleted or created on one replica is seen by the others within 100 ms, far inside the polling
interval (0.5 s) that stays as the fallback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture
def pair(upstream: Upstream, tmp_path: Path) -> Iterator[tuple[Acct, Acct]]:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis")
    settings = settings_for(upstream, tmp_path / "shared", redis_url=REDIS_URL)
    with serve(create_app(settings)) as a, serve(create_app(settings)) as b:
        yield Acct(a, settings), Acct(b, settings)


def seen_within(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until `check()` holds (it is polled back to back), or fails past `seconds`."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > seconds:
            raise AssertionError(f"not seen within {seconds * 1000:.0f} ms")
        time.sleep(0.005)  # the replicas share this process (and its GIL) with the polling
    return time.perf_counter() - start


def test_key_changes_reach_the_other_replica_within_100_ms(pair: tuple[Acct, Acct]) -> None:
    a, b = pair
    assert KEY_REFRESH_SECONDS >= 5 * PUSH_MS / 1000  # polling alone could not pass this test five times
    client = httpx.Client(timeout=10)

    def status(acct: Acct, key: str) -> int:
        return client.get(f"{acct.api}/key", headers={"authorization": f"Bearer {key}"}).status_code

    created = a.call("POST", "/keys", json={"name": "pushed"}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    wait_until(lambda: status(b, key) == 200)
    times = []
    for _ in range(3):
        assert a.call("PATCH", f"/keys/{key_hash}", json={"disabled": True}).status_code == 200
        times.append(seen_within(lambda: status(b, key) == 401, PUSH_MS / 1000))
        assert b.call("PATCH", f"/keys/{key_hash}", json={"disabled": False}).status_code == 200
        times.append(seen_within(lambda: status(a, key) == 200, PUSH_MS / 1000))
    assert a.call("PATCH", f"/keys/{key_hash}", json={"limit": 7}).status_code == 200

    def limit_on_b() -> bool:
        r = client.get(f"{b.api}/key", headers={"authorization": f"Bearer {key}"})
        return r.status_code == 200 and r.json()["data"]["limit"] == 7

    times.append(seen_within(limit_on_b, PUSH_MS / 1000))
    assert a.call("DELETE", f"/keys/{key_hash}").status_code == 200
    times.append(seen_within(lambda: status(b, key) == 401, PUSH_MS / 1000))
    assert max(times) < PUSH_MS / 1000, times


def test_a_malformed_message_is_ignored(pair: tuple[Acct, Acct]) -> None:
    """Anyone who can publish on the channel cannot crash the listener; later changes still arrive."""
    import redis

    from turnout.core.keys import load_secret
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
