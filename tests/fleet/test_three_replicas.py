"""The proof of issue 19: three `turnout serve` processes on one PostgreSQL (a private schema) and
one Redis (a private prefix, from the test's own key secret) behave as one gateway.

- a key's budget holds across the three to within one request;
- a provider failure seen by one replica is avoided by the others;
- a Responses API chain hops between replicas;
- a key disabled on one is refused by all within 100 ms;
- every replica's UI (its activity data) and account endpoints show the same totals.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.accounts.conftest import ADMIN, wait_until
from tests.conftest import FAILING_PRICE, PROMPT_PRICE, Upstream, gateway_config
from tests.unit.store.conftest import REDIS_URL

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
REPLICAS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Replica:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def call(self, method: str, path: str, key: str = ADMIN, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.api}{path}", headers=headers, timeout=30, **kw)


def fleet_config(upstream: Upstream, path: Path) -> Path:
    config = gateway_config(upstream.url)
    models: dict[str, Any] = dict(config["models"])  # type: ignore[call-overload]
    # A model whose cheapest provider is down: the other answers. Its own upstream names, so its
    # health is this test's alone. At FAILING_PRICE the down one is always tried first, until the
    # fleet has seen it fail.
    models["fleet/flaky"] = {"context_length": 8192, "endpoints": [
        {"provider": "fake", "model": "error-500", "pricing": {"prompt": FAILING_PRICE, "completion": FAILING_PRICE}},
        {"provider": "fake2", "model": "echo", "pricing": {"prompt": PROMPT_PRICE, "completion": PROMPT_PRICE}}]}
    path.write_text(yaml.safe_dump({"providers": config["providers"], "models": models, "admin_key": ADMIN,
                                    "catalog_dataset": False, "keepalive_interval": 0.5, "read_timeout": 5.0,
                                    "log_level": "warning"}))
    return path


@pytest.fixture
def fleet(upstream: Upstream, tmp_path: Path, pg_url: str, redis_up: None) -> Iterator[list[Replica]]:
    config = fleet_config(upstream, tmp_path / "turnout.yaml")
    env = {**os.environ, "TURNOUT_DATA_DIR": str(tmp_path / "data"), "TURNOUT_DATABASE_URL": pg_url,
           "TURNOUT_REDIS_URL": REDIS_URL}
    env.pop("TURNOUT_CONFIG", None)
    migrate = subprocess.run([sys.executable, "-m", "turnout", "migrate", "--config", str(config)], env=env,
                             capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0, migrate.stderr
    replicas = []
    try:
        for i in range(REPLICAS):
            port = free_port()
            log = tmp_path / f"replica-{i}.log"
            proc = subprocess.Popen([sys.executable, "-m", "turnout", "serve", "--config", str(config),
                                     "--port", str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            replicas.append(Replica(f"http://127.0.0.1:{port}", proc, log))
        for r in replicas:
            deadline = time.monotonic() + 60
            while True:
                assert r.proc.poll() is None, r.log.read_text()
                try:
                    if httpx.get(f"{r.url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, r.log.read_text()
                time.sleep(0.1)
        yield replicas
    finally:
        for r in replicas:
            r.proc.terminate()
        for r in replicas:
            try:
                r.proc.wait(15)
            except subprocess.TimeoutExpired:
                r.proc.kill()


def generation(replicas: list[Replica], key: str, gen_id: str) -> dict[str, Any]:
    """A generation record, from whichever replica (they share the database) once it is written."""
    found: dict[str, Any] = {}

    def look() -> bool:
        r = replicas[0].call("GET", f"/generation?id={gen_id}", key)
        if r.status_code == 200:
            found.update(r.json()["data"])
        return r.status_code == 200

    wait_until(look, timeout=10)
    return found


def test_three_replicas_behave_as_one_gateway(fleet: list[Replica]) -> None:
    a, b, c = fleet
    a.call("POST", "/credits", json={"amount": 100, "account": "default"})

    # -- a budget holds across the three, to within one request -------------------------------------
    limit = Decimal("0.0006")
    key = a.call("POST", "/keys", json={"name": "fleet-budget", "limit": str(limit)}).json()["key"]

    async def burst(n: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as client:
            async def one(i: int) -> httpx.Response:
                body = {"model": "test/slow", "messages": [{"role": "user", "content": f"fleet request {i} " * 5}],
                        "max_tokens": 40, "delay": 0.2}
                return await client.post(f"{fleet[i % REPLICAS].api}/chat/completions", json=body,
                                         headers={"authorization": f"Bearer {key}"})
            return await asyncio.gather(*(one(i) for i in range(n)))

    responses = asyncio.run(burst(45))
    assert {r.status_code for r in responses} <= {200, 402}, [r.text for r in responses if r.status_code not in (200, 402)]
    ok = [r for r in responses if r.status_code == 200]
    costs = [Decimal(str(generation(fleet, key, r.headers["x-generation-id"])["total_cost"])) for r in ok]
    assert costs and sum(costs) <= limit + max(costs), (sum(costs), limit, len(costs))
    assert len(costs) < 15  # one replica alone would admit that many; three alone, three times as many

    # -- a provider failure seen by one replica is avoided by the others ---------------------------------
    user = a.call("POST", "/keys", json={"name": "fleet-user"}).json()["key"]
    marker = uuid.uuid4().hex

    def flaky(replica: Replica, i: int) -> dict[str, Any]:
        r = replica.call("POST", "/chat/completions", user, json={
            "model": "fleet/flaky", "messages": [{"role": "user", "content": f"{marker} {i}"}], "max_tokens": 5})
        assert r.status_code == 200, r.text
        return generation(fleet, user, r.headers["x-generation-id"])

    assert len(flaky(a, 0)["attempts"]) == 2  # the cheap provider failed, the other answered
    time.sleep(1.0)  # "within a second"
    for i, replica in enumerate((b, c, b, c)):
        attempts = flaky(replica, i + 1)["attempts"]
        assert [x["outcome"] for x in attempts] == ["ok"], attempts  # the failed provider was not tried first

    # -- a Responses API chain hops between replicas --------------------------------------------------
    previous = None
    for i, replica in enumerate((a, b, c, a)):
        body: dict[str, Any] = {"model": "test/echo", "input": f"turn {i}"}
        if previous:
            body["previous_response_id"] = previous
        r = replica.call("POST", "/responses", user, json=body)
        assert r.status_code == 200, (i, r.text)
        previous = r.json()["id"]
    assert c.call("GET", f"/responses/{previous}", user).status_code == 200

    # -- a key disabled on one replica is refused by all within 100 ms ----------------------------------
    victim = a.call("POST", "/keys", json={"name": "fleet-victim"}).json()
    for replica in fleet:
        wait_until(lambda replica=replica: replica.call("GET", "/key", victim["key"]).status_code == 200)
    with httpx.Client(timeout=5) as client:
        assert b.call("PATCH", f"/keys/{victim['data']['hash']}", json={"disabled": True}).status_code == 200
        start = time.perf_counter()
        refused: dict[str, float] = {}
        while len(refused) < REPLICAS and time.perf_counter() - start < 1.0:
            for replica in fleet:
                if replica.url not in refused and client.get(
                        f"{replica.api}/key", headers={"authorization": f"Bearer {victim['key']}"}).status_code == 401:
                    refused[replica.url] = time.perf_counter() - start
            time.sleep(0.002)
    assert len(refused) == REPLICAS and max(refused.values()) < 0.1, refused

    # -- every replica's UI and account endpoints show the same totals ------------------------------------
    def totals(replica: Replica) -> tuple[Any, ...]:
        ui = httpx.get(f"{replica.url}/ui/api/activity?days=30", headers={"authorization": f"Bearer {user}"},
                       timeout=10)
        assert ui.status_code == 200, ui.text
        credits = replica.call("GET", "/credits", user).json()["data"]
        activity = replica.call("GET", "/activity", ADMIN).json()["data"]
        return ui.json(), credits, sorted(map(str, activity))

    wait_until(lambda: len({str(totals(r)) for r in fleet}) == 1, timeout=10)
    shown = totals(a)[0]
    assert "fleet/flaky" in str(shown) and "test/echo" in str(shown)  # history, not an empty page
