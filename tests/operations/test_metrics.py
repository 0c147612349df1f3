"""GET /metrics: the admin key guards it, requests are counted from their records, labels are bounded."""

from __future__ import annotations

import asyncio
import secrets

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.accounts.conftest import ADMIN
from tests.conftest import Gateway

ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN}"}


def scrape(gw: Gateway) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = httpx.get(f"{gw.url}/metrics", headers=ADMIN_HEADERS, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


def chat(gw: Gateway, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(f"{gw.api}/chat/completions", headers={"authorization": f"Bearer {gw.key}"}, timeout=30,
                      json={"model": model, "stream": stream, "messages": [{"role": "user", "content": "one two"}]})


def test_metrics_need_the_admin_key(ops_gateway: Gateway) -> None:
    assert httpx.get(f"{ops_gateway.url}/metrics").status_code == 401
    user = httpx.get(f"{ops_gateway.url}/metrics", headers={"authorization": f"Bearer {ops_gateway.key}"})
    assert user.status_code == 403
    assert "turnout_requests_total" in httpx.get(f"{ops_gateway.url}/metrics", headers=ADMIN_HEADERS).text


def test_requests_tokens_cost_and_attempts_are_counted(ops_gateway: Gateway) -> None:
    before = scrape(ops_gateway)
    for stream in (False, True, False):
        assert chat(ops_gateway, "test/echo", stream).status_code == 200
    assert chat(ops_gateway, "test/fallback").status_code == 200
    after = scrape(ops_gateway)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("turnout_requests_total", model="test/echo", provider="fake", outcome="ok", dialect="openai") == 3
    assert delta("turnout_request_duration_seconds_count", dialect="openai") == 4
    assert delta("turnout_time_to_first_token_seconds_count", dialect="openai") == 1
    assert delta("turnout_tokens_total", model="test/echo", direction="input") > 0
    assert delta("turnout_tokens_total", model="test/echo", direction="output") > 0
    assert delta("turnout_cost_usd_total", model="test/echo") > 0
    # the fallback model: one failed attempt on fake (a 500), then fake2 answers
    assert delta("turnout_fallbacks_total") == 1
    assert delta("turnout_upstream_attempts_total", provider="fake", outcome="error", error="provider_server_error") == 1
    assert delta("turnout_upstream_attempts_total", provider="fake2", outcome="ok") == 1
    assert delta("turnout_gateway_overhead_seconds_count") == 4
    # endpoint health is exported: the fallback's failing endpoint has a success ratio below 1
    ratios = [v for labels, v in after["turnout_endpoint_success_ratio"] if labels["provider"] == "fake"]
    assert ratios and min(ratios) < 1


def test_unknown_models_do_not_grow_the_series(ops_gateway: Gateway) -> None:
    """10,000 requests for random model names: the series count stays where it was after the first."""
    headers = {"authorization": f"Bearer {ops_gateway.key}"}

    async def attack(n: int) -> None:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16)) as client:
            sem = asyncio.Semaphore(16)

            async def one() -> None:
                async with sem:
                    r = await client.post(f"{ops_gateway.api}/chat/completions", headers=headers,
                                          json={"model": f"evil/{secrets.token_hex(8)}",
                                                "messages": [{"role": "user", "content": "x"}]})
                    assert r.status_code in (400, 404), r.text

            await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(attack(20))
    first = scrape(ops_gateway)
    series = sum(len(v) for v in first.values())
    asyncio.run(attack(10_000))
    after = scrape(ops_gateway)
    assert sum(len(v) for v in after.values()) == series
    text = httpx.get(f"{ops_gateway.url}/metrics", headers=ADMIN_HEADERS).text
    assert "evil/" not in text
    assert value(after, "turnout_requests_total", model="other") - value(first, "turnout_requests_total", model="other") \
        == 10_000


def test_no_key_hash_or_label_in_any_series(ops_gateway: Gateway) -> None:
    assert chat(ops_gateway, "test/echo").status_code == 200
    text = httpx.get(f"{ops_gateway.url}/metrics", headers=ADMIN_HEADERS).text
    assert ops_gateway.key not in text and ops_gateway.key[:12] not in text
    assert "sk-tn" not in text


def test_a_context_never_recorded_is_not_held_forever() -> None:
    """The live set (open requests, shutdown) forgets a context older than any request may run."""
    import time as _time

    from turnout.core.context import RequestContext
    from turnout.observe.observer import SWEEP_EVERY, Observer

    class Accountant:
        observer: Observer | None = None

    acc = Accountant()
    acc.observer = Observer(None, max_age=60)
    stale = RequestContext(accountant=acc, key=None, dialect_in="openai", model_id="m", streamed=True)  # type: ignore[arg-type]
    stale.started = _time.perf_counter() - 120
    assert acc.observer.open_counts() == (0, 1)
    fresh = [RequestContext(accountant=acc, key=None, dialect_in="openai", model_id="m", streamed=False)  # type: ignore[arg-type]
             for _ in range(SWEEP_EVERY)]
    assert id(stale) not in acc.observer.live
    assert acc.observer.open_counts() == (len(fresh), 0)


def test_rate_limit_and_budget_refusals_are_counted(ops_gateway: Gateway) -> None:
    def make(body: dict[str, object]) -> str:
        r = httpx.post(f"{ops_gateway.api}/keys", headers=ADMIN_HEADERS, json=body, timeout=10)
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    limited = make({"name": "one-a-minute", "rate_limit_rpm": 1})
    broke = make({"name": "broke", "limit": "0.0000001"})
    before = scrape(ops_gateway)
    statuses = [httpx.post(f"{ops_gateway.api}/chat/completions", headers={"authorization": f"Bearer {limited}"},
                           json={"model": "test/echo", "messages": [{"role": "user", "content": "x"}]}, timeout=10).status_code
                for _ in range(3)]
    assert statuses.count(429) == 2
    over = httpx.post(f"{ops_gateway.api}/chat/completions", headers={"authorization": f"Bearer {broke}"}, timeout=10,
                      json={"model": "test/echo", "max_tokens": 4000, "messages": [{"role": "user", "content": "x " * 2000}]})
    assert over.status_code == 402, over.text
    after = scrape(ops_gateway)
    assert value(after, "turnout_refusals_total", reason="rate_limit") - value(before, "turnout_refusals_total", reason="rate_limit") == 2
    assert value(after, "turnout_refusals_total", reason="budget") - value(before, "turnout_refusals_total", reason="budget") == 1
