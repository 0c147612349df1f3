"""Budgets under load: 50 concurrent requests against a key limit or an account balance that is
nearly spent never overrun it by more than one request's cost, and the ledger balances after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from tests.accounts.conftest import Acct, ledger_balances, wait_until
from tests.unit.store.backends import ran
from tests.unit.store.conftest import POSTGRES_URL, reachable

CONCURRENCY = 50


async def fire(acct: Acct, key: str, n: int, *, stream_every: int = 3, headers: dict[str, str] | None = None
               ) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as client:
        async def one(i: int) -> httpx.Response:
            body = {"model": "test/slow", "messages": [{"role": "user", "content": f"request number {i} " * 5}],
                    "max_tokens": 40, "delay": 0.2, "stream": i % stream_every == 0}
            return await client.post(f"{acct.api}/chat/completions", json=body,
                                     headers={"authorization": f"Bearer {key}", **(headers or {})})
        return await asyncio.gather(*(one(i) for i in range(n)))


def postgres_database(request: pytest.FixtureRequest) -> str:
    """A private schema in the test database, dropped after the test."""
    if not reachable(5432):
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    pytest.importorskip("asyncpg", reason="the asyncpg package is not installed: pip install '.[postgres]'")
    from turnout.store.postgres import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    maker = PostgresStore(POSTGRES_URL, schema=schema)  # creates the schema
    request.addfinalizer(lambda: (maker.drop_schema(), maker.close()))
    return f"{POSTGRES_URL}?search_path={schema}"


def costs_of(acct: Acct, responses: list[httpx.Response]) -> list[Decimal]:
    """The cost of each admitted request, from its generation record."""
    out = []
    for r in responses:
        if r.status_code == 200:
            gen_id = r.headers["x-generation-id"]
            rec = acct.call("GET", f"/generation?id={gen_id}", headers={}, key=_key_of(r))
            out.append(Decimal(str(rec.json()["data"]["total_cost"])))
    return out


def _key_of(r: httpx.Response) -> str:
    return r.request.headers["authorization"].split(" ", 1)[1]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_requests_never_overrun_a_key_limit(start_gateway: Callable[..., Acct], backend: str,
                                                        request: pytest.FixtureRequest) -> None:
    acct = start_gateway(database_url=postgres_database(request) if backend == "postgres" else None)
    ran(backend)
    # one request's worst case: ~20 prompt tokens + 40 completion tokens -> about 0.0001; room for ~6
    limit = Decimal("0.0006")
    created = acct.call("POST", "/keys", json={"name": "tight", "limit": str(limit)}).json()
    key, key_hash = created["key"], created["data"]["hash"]
    responses = asyncio.run(fire(acct, key, CONCURRENCY))
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 402}, statuses
    admitted = statuses.count(200)
    assert 3 <= admitted < CONCURRENCY
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["message"].startswith(("This request requires more credits", "Insufficient credits"))
    costs = costs_of(acct, responses)
    data = acct.call("GET", "/key", key).json()["data"]
    spent = Decimal(str(data["usage"]))
    assert spent == sum(costs)
    assert spent <= limit + max(costs)
    assert data["reserved"] == 0  # every hold was released
    with acct.store() as store:  # the batch lands in the store: key usage, ledger and account agree
        wait_until(lambda: store.get_key(key_hash).usage == spent)  # type: ignore[union-attr]
        usage, total = ledger_balances(store)
        assert usage == total >= spent


def test_an_account_balance_is_a_budget_too(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway(require_credits=True)
    key = acct.call("POST", "/keys", json={"name": "team-key", "account": "team"}).json()["key"]
    r = acct.chat(key, max_tokens=10)
    assert r.status_code == 402 and "Insufficient credits" in r.json()["error"]["message"]
    assert r.json()["error"]["metadata"]["limited_by"] == "account credits"
    grant = acct.call("POST", "/credits", json={"amount": "0.0008", "kind": "grant", "account": "team", "note": "trial"})
    assert grant.status_code == 201 and grant.json()["data"]["total_credits"] == 0.0008
    credits = acct.call("GET", "/credits", key).json()["data"]
    assert credits["total_credits"] == 0.0008 and credits["total_usage"] == 0 and credits["account"] == "team"
    responses = asyncio.run(fire(acct, key, CONCURRENCY))
    admitted = [r for r in responses if r.status_code == 200]
    assert admitted and len(admitted) < CONCURRENCY
    costs = costs_of(acct, responses)
    credits = acct.call("GET", "/credits", key).json()["data"]
    used = Decimal(str(credits["total_usage"]))
    assert used == sum(costs) and used <= Decimal("0.0008") + max(costs)
    assert credits["reserved"] == 0
    # a purchase tops the account up; the admin sees the same totals
    acct.call("POST", "/credits", json={"amount": 1, "kind": "purchase", "account": "team"})
    assert acct.chat(key, max_tokens=10).status_code == 200
    admin_view = acct.call("GET", "/credits?account=team").json()["data"]
    assert admin_view["total_credits"] == 1.0008

    def settled() -> bool:
        with acct.store() as store:
            usage, total = ledger_balances(store, "team")
            record = store.get_account("team")
            return usage == total and record is not None and record.usage == Decimal(str(
                acct.call("GET", "/credits?account=team").json()["data"]["total_usage"]))
    wait_until(settled)


def test_402_names_what_can_be_afforded(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway()
    key = acct.call("POST", "/keys", json={"name": "small", "limit": "0.001"}).json()["key"]
    r = acct.chat(key, max_tokens=100_000)  # far past the context: the router refuses first
    assert r.status_code in (400, 402, 404)
    r = acct.chat(key, max_tokens=4000)  # 4000 x 0.000002 = 0.008 > 0.001
    assert r.status_code == 402
    err = r.json()["error"]
    assert err["message"].startswith("This request requires more credits, or fewer max_tokens. You requested up to 4000 tokens, but can only afford ")
    afford = err["metadata"]["affordable_tokens"]
    assert 400 < afford < 500  # (0.001 - prompt) / 0.000002
    assert acct.chat(key, max_tokens=afford).status_code == 200
    # without max_tokens the worst case is the rest of the context window: too much for this key
    r = acct.chat(key)
    assert r.status_code == 402 and "You requested up to" in r.json()["error"]["message"]


@pytest.mark.parametrize("reset", ["daily", "weekly", "monthly"])
def test_limit_reset_counts_the_current_period(acct: Acct, reset: str) -> None:
    created = acct.call("POST", "/keys", json={"name": f"periodic-{reset}", "limit": "0.0002", "limit_reset": reset}).json()
    key = created["key"]
    assert acct.chat(key, max_tokens=10).status_code == 200
    data = acct.call("GET", "/key", key).json()["data"]
    assert data["limit_reset"] == reset and data[f"usage_{reset}"] == data["usage"]


def test_the_hold_covers_a_pricier_fallback_model(acct: Acct) -> None:
    key = acct.call("POST", "/keys", json={"name": "fallback-budget", "limit": "0.01"}).json()["key"]
    assert acct.chat(key, max_tokens=100).status_code == 200  # 100 x 0.000002: fits
    r = acct.chat(key, max_tokens=100, models=["test/pricey"])  # 100 x 0.001 if the fallback answers
    assert r.status_code == 402, r.text
    assert "You requested up to 100 tokens, but can only afford" in r.json()["error"]["message"]
