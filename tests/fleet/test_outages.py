"""Store outages during traffic: Redis or PostgreSQL going away (cut by a TCP proxy in front of the
shared servers) fails no request that could be served; accounting queues and the journal keep the
records, limits fall back to the local view, and once the servers return the ledger reconciles:
every answered request recorded once, its cost in the key's and the account's usage exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.accounts.conftest import Acct, settings_for, wait_until
from tests.conftest import Upstream
from tests.fakes.server import serve
from tests.fleet.tcp_proxy import TcpProxy
from turnout.app import create_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def proxied(upstream: Upstream, tmp_path: Path, pg_url: str, redis_up: None) -> Iterator[tuple[Acct, TcpProxy, TcpProxy]]:
    pg, redis = TcpProxy(5432), TcpProxy(6379)
    settings = settings_for(upstream, tmp_path / "data", database_url=pg_url.replace(":5432/", f":{pg.port}/"),
                            redis_url=f"redis://127.0.0.1:{redis.port}/0", rate_limit_rpm=10_000)
    try:
        with serve(create_app(settings)) as url:
            yield Acct(url, settings), pg, redis
    finally:
        pg.close()
        redis.close()


def traffic(acct: Acct, key: str, seconds: float, answers: list[httpx.Response], stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline and not stop.is_set():
            i += 1
            body = {"model": "test/echo", "messages": [{"role": "user", "content": f"outage {i}"}], "max_tokens": 10,
                    "stream": i % 3 == 0}
            answers.append(client.post(f"{acct.api}/chat/completions", json=body,
                                       headers={"authorization": f"Bearer {key}"}))
            time.sleep(0.02)


def test_redis_and_postgresql_cut_during_traffic_then_the_ledger_reconciles(
        proxied: tuple[Acct, TcpProxy, TcpProxy]) -> None:
    acct, pg, redis = proxied
    acct.call("POST", "/credits", json={"amount": 100, "account": "default"})
    created = acct.call("POST", "/keys", json={"name": "outage", "limit": 50}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    answers: list[httpx.Response] = []
    stop = threading.Event()
    worker = threading.Thread(target=traffic, args=(acct, key, 9.0, answers, stop))
    worker.start()
    try:
        time.sleep(1.5)
        redis.cut()
        time.sleep(2.0)
        pg.cut()  # both away at once
        time.sleep(2.0)
        redis.restore()
        time.sleep(1.5)
        pg.restore()
    finally:
        worker.join(30)
        stop.set()
    statuses = [r.status_code for r in answers]
    assert len(answers) > 50 and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    ids = {r.headers["x-generation-id"] for r in answers}
    assert len(ids) == len(answers)

    with acct.store() as store:
        def all_written() -> bool:
            return all(store.get_generation(i) is not None for i in ids)

        wait_until(all_written, timeout=20, step=0.2)
        costs = [store.get_generation(i).cost for i in ids]  # type: ignore[union-attr]
        total = sum(costs, Decimal(0))
        stored_key = store.get_key(key_hash)
        assert stored_key is not None and stored_key.usage == total, (stored_key, total)
        _, usage = store.ledger_sums("default")
        account = store.get_account("default")
        assert account is not None and usage == account.usage == total  # once each, none twice
    wait_until(lambda: Decimal(str(acct.call("GET", "/key", key).json()["data"]["usage"])) == total, timeout=10)
