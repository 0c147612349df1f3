"""Two replicas sharing one database and one Redis: a key's limit and an account's balance hold
across both, because each reservation is also held atomically in Redis (store/redis.py `Holds`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import Acct, settings_for, wait_until
from tests.conftest import Upstream
from tests.fakes.server import serve
from tests.unit.store.backends import ran
from tests.unit.store.conftest import REDIS_URL, reachable
from turnout.app import create_app


@pytest.fixture
def replicas(upstream: Upstream, tmp_path: Path) -> Iterator[tuple[Acct, Acct]]:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis", reason="the redis package is not installed: pip install '.[redis]'")
    settings = settings_for(upstream, tmp_path / "shared", redis_url=REDIS_URL, require_credits=True)
    with serve(create_app(settings)) as a, serve(create_app(settings)) as b:
        ran("redis")
        ran("sqlite")
        yield Acct(a, settings), Acct(b, settings)


async def burst(replicas: tuple[Acct, Acct], key: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as client:
        async def one(i: int) -> httpx.Response:
            body = {"model": "test/slow", "messages": [{"role": "user", "content": f"replica request {i} " * 5}],
                    "max_tokens": 40, "delay": 0.2, "stream": i % 4 == 0}
            return await client.post(f"{replicas[i % 2].api}/chat/completions", json=body,
                                     headers={"authorization": f"Bearer {key}"})
        return await asyncio.gather(*(one(i) for i in range(n)))


def spent(acct: Acct, responses: list[httpx.Response], key: str) -> list[Decimal]:
    costs = []
    for r in responses:
        if r.status_code == 200:
            rec = acct.call("GET", f"/generation?id={r.headers['x-generation-id']}", key)
            if rec.status_code != 200:  # answered by the other replica: wait for its batch to land
                wait_until(lambda r=r: acct.call("GET", f"/generation?id={r.headers['x-generation-id']}", key).status_code == 200)
                rec = acct.call("GET", f"/generation?id={r.headers['x-generation-id']}", key)
            costs.append(Decimal(str(rec.json()["data"]["total_cost"])))
    return costs


@pytest.mark.redis
def test_a_key_limit_holds_across_replicas(replicas: tuple[Acct, Acct]) -> None:
    a, b = replicas
    a.call("POST", "/credits", json={"amount": 100, "account": "default"})
    limit = Decimal("0.0006")  # room for about six worst cases, shared by both replicas
    created = a.call("POST", "/keys", json={"name": "replicated", "limit": str(limit)}).json()
    key = created["key"]
    wait_until(lambda: b.call("GET", "/key", key).status_code == 200)
    responses = asyncio.run(burst(replicas, key, 50))
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 402}, statuses
    refused = [r.json()["error"] for r in responses if r.status_code == 402]
    assert any("shared by replicas" in e["metadata"]["limited_by"] for e in refused) or statuses.count(200) <= 6
    costs = spent(a, responses, key)
    assert sum(costs) <= limit + max(costs), (sum(costs), limit, len(costs))
    assert 3 <= len(costs) <= 8


@pytest.mark.redis
def test_an_account_balance_holds_across_replicas(replicas: tuple[Acct, Acct]) -> None:
    a, b = replicas
    key = a.call("POST", "/keys", json={"name": "team-replicated", "account": "shared-team"}).json()["key"]
    a.call("POST", "/credits", json={"amount": "0.0006", "account": "shared-team"}, headers={})
    wait_until(lambda: b.call("GET", "/credits", key).json().get("data", {}).get("total_credits") == 0.0006)
    responses = asyncio.run(burst(replicas, key, 50))
    costs = spent(a, responses, key)
    assert sum(costs) <= Decimal("0.0006") + max(costs)
    assert 3 <= len(costs) <= 8  # about five worst cases fit; one process alone would let each replica admit that many


def test_workers_without_redis_see_each_others_spend(upstream: Upstream, tmp_path: Path) -> None:
    """Two processes on one database: each learns what the other spent within seconds, and its
    own spend is never counted twice."""
    settings = settings_for(upstream, tmp_path / "workers")
    with serve(create_app(settings)) as a_url, serve(create_app(settings)) as b_url:
        ran("sqlite")
        a, b = Acct(a_url, settings), Acct(b_url, settings)
        key = a.call("POST", "/keys", json={"name": "worker-key", "limit": 1}).json()["key"]
        wait_until(lambda: b.call("GET", "/key", key).status_code == 200)
        costs = []
        for acct in (a, a, a, b):
            r = acct.chat(key, max_tokens=10)
            costs.append(Decimal(str(r.json()["usage"]["cost"])))
        total = sum(costs)

        def usage(acct: Acct) -> Decimal:
            return Decimal(str(acct.call("GET", "/key", key).json()["data"]["usage"]))

        try:
            wait_until(lambda: usage(a) == total and usage(b) == total, timeout=6)
        except AssertionError:
            raise AssertionError(f"a={usage(a)} b={usage(b)} total={total} costs={costs}") from None
        time.sleep(2.5)  # more merges: still exact, nothing counted twice
        assert usage(a) == total and usage(b) == total
        credits = [Decimal(str(x.call("GET", "/credits", key).json()["data"]["total_usage"])) for x in (a, b)]
        assert credits == [total, total]
