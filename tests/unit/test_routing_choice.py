"""The default choice's statistics and the circuit breaker's timing, with a seeded RNG and a fake clock."""

from __future__ import annotations

import random
from collections import Counter

from turnout.core.catalog.catalog import build_catalog
from turnout.core.routing.health import BASE_BACKOFF, BREAKER_THRESHOLD, HealthTracker
from turnout.core.routing.router import Router


def three_price_catalog():  # A=$1/M, B=$2/M, C=$3/M, OpenRouter's worked example
    providers = {p: {"dialect": "openai", "base_url": "http://127.0.0.1:1", "api_key": "k"} for p in ("a", "b", "c")}
    models = {"x/m": {"context_length": 1000, "endpoints": [
        {"provider": p, "model": p, "pricing": {"prompt": str(usd / 1e6), "completion": "0"}} for p, usd in (("a", 1), ("b", 2), ("c", 3))]}}
    return build_catalog(providers, models, env={})


def test_first_choice_frequencies_match_inverse_square_price() -> None:
    catalog = three_price_catalog()
    health = HealthTracker()
    router = Router(catalog, lambda e: (True, None), health, rng=random.Random(1234))
    endpoints = catalog.models["x/m"].endpoints
    n = 30_000
    firsts = Counter(router.weighted_order(endpoints)[0].provider.slug for _ in range(n))
    weights = {"a": 1.0, "b": 1 / 4, "c": 1 / 9}
    total = sum(weights.values())
    chi2 = sum((firsts[k] - n * w / total) ** 2 / (n * w / total) for k, w in weights.items())
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001
    assert firsts["a"] / firsts["c"] > 7  # A is ~9x as likely as C


def test_recently_failed_endpoint_goes_last() -> None:
    catalog = three_price_catalog()
    health = HealthTracker()
    a = catalog.models["x/m"].endpoints[0]
    health.failure(a.key)
    router = Router(catalog, lambda e: (True, None), health, rng=random.Random(1))
    from turnout.model.chat import ChatRequest, Message

    for _ in range(50):
        route = router.resolve(ChatRequest(model="x/m", messages=[Message("user", "hi")]))
        assert route.endpoints[-1].provider.slug == "a"


def test_circuit_opens_probes_after_backoff_and_recovers() -> None:
    now = [0.0]
    health = HealthTracker(clock=lambda: now[0])
    key = "p|m|u"
    for _ in range(BREAKER_THRESHOLD - 1):
        health.failure(key)
    assert health.blocked(key) is None
    health.failure(key)
    assert "circuit open" in (health.blocked(key) or "")
    now[0] += BASE_BACKOFF + 0.1
    assert health.blocked(key) is None  # the back-off is over: one probe may go
    health.claim_probe(key)
    assert "half-open" in (health.blocked(key) or "")  # only one probe at a time
    health.failure(key)  # the probe failed: open again, for twice as long
    now[0] += BASE_BACKOFF + 0.1
    assert health.blocked(key) is not None
    now[0] += BASE_BACKOFF
    health.claim_probe(key)
    health.success(key, 12.0)  # the probe succeeded: closed
    assert health.blocked(key) is None
    assert health.snapshot(key)["status"] in (0, -2)


def test_retry_after_cooldown() -> None:
    now = [100.0]
    health = HealthTracker(clock=lambda: now[0])
    health.rate_limited("k", 7)
    assert health.retry_in("k") == (True, 7)
    now[0] += 7.5
    assert health.blocked("k") is None
