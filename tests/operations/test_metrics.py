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
    """3,000 requests for random model names: the series count stays where it was after the first.

    (3,000, not more: one series per name would show as 3,000 new series all the same, and the
    attack must fit pytest's timeout on a slow CI machine; 10,000 took 92 s of its 120 there.)"""
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
    asyncio.run(attack(3_000))
    after = scrape(ops_gateway)
    assert sum(len(v) for v in after.values()) == series
    text = httpx.get(f"{ops_gateway.url}/metrics", headers=ADMIN_HEADERS).text
    assert "evil/" not in text
    assert value(after, "turnout_requests_total", model="other") - value(first, "turnout_requests_total", model="other") \
        == 3_000


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


def test_a_finished_requests_metrics_and_log_line_are_settled_in_a_batch_soon_after() -> None:
    """observe/observer.py: recorded requests are counted and logged together, `SETTLE_WAIT` later
    on an event loop (or at once off one, or when settled explicitly, as a scrape does)."""
    import logging
    from decimal import Decimal

    from turnout.observe.metrics import Metrics
    from turnout.observe.observer import SETTLE_WAIT, Observer
    from turnout.store.base import GenerationRecord

    lines: list[str] = []
    metrics = Metrics(["m"], ["p"])
    observer = Observer(metrics, max_age=60, line=lambda record, key, slug, trace: lines.append(record.id))

    def record(i: int) -> GenerationRecord:
        return GenerationRecord(
            id=f"gen-{i}", created_at=0.0, key_hash=None, model="m", provider=None, upstream_model=None,
            dialect_in="openai", dialect_out=None, streamed=False, status="ok", finish_reason="stop",
            native_finish_reason=None, prompt_tokens=3, completion_tokens=4, cached_tokens=0, cache_write_tokens=0,
            reasoning_tokens=0, usage_estimated=False, cost=Decimal(0),
            latency_ms=1.0, generation_time_ms=2.0, error_code=None, error_message=None, app_title=None,
            app_referer=None, attempts=[])

    class Ctx:  # what Observer.end reads of a RequestContext
        def __init__(self) -> None:
            self.attempts: list[object] = []
            self.error = None
            self.endpoint = None
            self.key = None

    def counted() -> float:
        metrics.flush()
        return metrics.requests.labels("openai", "m", "none", "ok", "none")._value.get()  # type: ignore[no-any-return]

    requests_log = logging.getLogger("turnout.requests")
    level = requests_log.level
    requests_log.setLevel(logging.INFO)
    try:
        async def on_a_loop() -> tuple[list[str], float, list[str], float]:
            observer.end(Ctx(), record(1))  # type: ignore[arg-type]
            observer.end(Ctx(), record(2))  # type: ignore[arg-type]
            waiting = (list(lines), counted())
            await asyncio.sleep(SETTLE_WAIT * 4)
            return (*waiting, list(lines), counted())

        before_lines, before_count, after_lines, after_count = asyncio.run(on_a_loop())
        assert before_lines == [] and before_count == 0
        assert after_lines == ["gen-1", "gen-2"] and after_count == 2

        async def scraped() -> tuple[list[str], float]:
            observer.end(Ctx(), record(3))  # type: ignore[arg-type]
            observer.settle()  # what refresh_gauges does before a scrape (test_requests_tokens_cost_and_attempts_are_counted scrapes)
            return list(lines), counted()

        scraped_lines, scraped_count = asyncio.run(scraped())
        assert scraped_lines[-1] == "gen-3" and scraped_count == 3
        observer.end(Ctx(), record(4))  # type: ignore[arg-type]  # off a loop: at once
        assert lines[-1] == "gen-4" and counted() == 4
    finally:
        requests_log.setLevel(level)
