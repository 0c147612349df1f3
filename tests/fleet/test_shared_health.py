"""Endpoint health shared through Redis (core/routing/shared_health.py): failures, circuits, cool-downs and
samples seen by one replica reach the others; a half-open probe goes to exactly one replica."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.unit.store.conftest import REDIS_URL, reachable
from turnout.core.routing.health import BREAKER_THRESHOLD, HealthTracker
from turnout.core.routing.shared_health import SharedHealth

pytestmark = pytest.mark.redis
EP = "fake/echo@fake"


@pytest.fixture
def prefix() -> str:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis")
    return f"turnout:test-{uuid.uuid4().hex[:12]}:health:"


def fleet(prefix: str, n: int) -> list[SharedHealth]:
    return [SharedHealth(HealthTracker(), REDIS_URL, prefix) for _ in range(n)]


async def tick(*replicas: SharedHealth) -> None:
    for r in replicas:
        await r.tick()


def end_backoff(prefix: str, *replicas: SharedHealth) -> None:
    """The back-off ends, as if its seconds had passed: in Redis and in each replica."""
    import redis

    with redis.Redis.from_url(REDIS_URL) as r:
        r.hset(prefix + "state", f"{EP}|open", f"{time.time() - 0.01:.3f}")
    for rep in replicas:
        rep.tracker.state(EP).open_until = rep.tracker.clock() - 0.01


async def close(*replicas: SharedHealth) -> None:
    for r in replicas:
        await r.close()


def test_a_circuit_opened_by_one_replica_is_skipped_by_the_others(prefix: str) -> None:
    async def main() -> None:
        a, b, c = fleet(prefix, 3)
        try:
            for _ in range(BREAKER_THRESHOLD):
                a.tracker.failure(EP)
            assert a.tracker.blocked(EP) is not None
            assert b.tracker.blocked(EP) is None and not b.tracker.recently_failed(EP)
            await tick(a, b, c)
            for r in (b, c):
                assert r.tracker.blocked(EP) is not None, "the fleet's open circuit did not reach this replica"
                assert r.tracker.recently_failed(EP)
        finally:
            await close(a, b, c)
    asyncio.run(main())


def test_failures_spread_over_replicas_open_the_circuit_for_all(prefix: str) -> None:
    """Each replica sees fewer failures than the threshold; together they reach it."""
    async def main() -> None:
        a, b = fleet(prefix, 2)
        try:
            for i in range(BREAKER_THRESHOLD):
                (a if i % 2 else b).tracker.failure(EP)
                await tick(a, b)
            await tick(a, b)  # the last failure's writer ticked after the other replica's read
            assert a.tracker.blocked(EP) is not None and b.tracker.blocked(EP) is not None
        finally:
            await close(a, b)
    asyncio.run(main())


def test_one_replica_takes_the_half_open_probe_and_its_success_closes_the_circuit_everywhere(prefix: str) -> None:
    async def main() -> None:
        replicas = fleet(prefix, 3)
        try:
            for _ in range(BREAKER_THRESHOLD):
                replicas[0].tracker.failure(EP)
            await tick(*replicas)
            end_backoff(prefix, *replicas)
            for r in replicas:
                assert r.tracker.blocked(EP) is not None  # nobody probes before the grant
            await tick(*replicas)
            await tick(*replicas)
            free = [r for r in replicas if r.tracker.blocked(EP) is None]
            assert len(free) == 1, [r.tracker.blocked(EP) for r in replicas]
            prober = free[0]
            prober.tracker.claim_probe(EP)
            assert prober.tracker.blocked(EP) is not None  # one request, not every request of that replica
            prober.tracker.success(EP, 12.0)
            await tick(prober)
            await tick(*replicas)
            for r in replicas:
                assert r.tracker.blocked(EP) is None, r.tracker.blocked(EP)
        finally:
            await close(*replicas)
    asyncio.run(main())


def test_a_failed_probe_doubles_the_back_off_for_the_fleet(prefix: str) -> None:
    async def main() -> None:
        a, b = fleet(prefix, 2)
        try:
            for _ in range(BREAKER_THRESHOLD):
                a.tracker.failure(EP)
            await tick(a, b)
            first = b.tracker.state(EP).backoff
            end_backoff(prefix, a, b)
            await tick(a, b)
            prober = a if a.tracker.blocked(EP) is None else b
            prober.tracker.claim_probe(EP)
            prober.tracker.failure(EP)
            await tick(a, b)
            await tick(a, b)
            for r in (a, b):
                assert r.tracker.blocked(EP) is not None
                assert r.tracker.state(EP).backoff == first * 2
        finally:
            await close(a, b)
    asyncio.run(main())


def test_a_retry_after_cool_down_is_shared(prefix: str) -> None:
    async def main() -> None:
        a, b = fleet(prefix, 2)
        try:
            a.tracker.rate_limited(EP, 30)
            await tick(a, b)
            why = b.tracker.blocked(EP)
            assert why is not None and "rate limited" in why
            retry = b.tracker.retry_in(EP)
            assert retry is not None and retry[0] and 28 < retry[1] <= 30.5
        finally:
            await close(a, b)
    asyncio.run(main())


def test_samples_are_the_fleets(prefix: str) -> None:
    async def main() -> None:
        a, b = fleet(prefix, 2)
        try:
            for _ in range(3):
                a.tracker.success(EP, 100.0)
            b.tracker.failure(EP)
            a.tracker.throughput(EP, 50.0)
            await tick(a, b)
            b._last_samples = a._last_samples = 0.0
            await tick(a, b)
            for r in (a, b):
                assert r.tracker.success_rate(EP) == 0.75
                assert r.tracker.p50_latency(EP) == 100.0
                assert r.tracker.p50_throughput(EP) == 50.0
                assert r.tracker.snapshot(EP)["request_count"] == 4
        finally:
            await close(a, b)
    asyncio.run(main())


def test_without_redis_a_replica_decides_alone() -> None:
    """Redis away: no exception, the tracker's own view rules (a probe needs no grant)."""
    async def main() -> None:
        r = SharedHealth(HealthTracker(), "redis://127.0.0.1:1/0", "turnout:test-down:health:")
        try:
            for _ in range(BREAKER_THRESHOLD):
                r.tracker.failure(EP)
            await r.tick()
            assert not r.tracker.shared
            r.tracker.state(EP).open_until = r.tracker.clock() - 0.01
            assert r.tracker.blocked(EP) is None  # the probe goes out without a fleet grant
            assert r.tracker.events is not None and len(r.tracker.events) == BREAKER_THRESHOLD  # kept for later
        finally:
            await r.close()
    asyncio.run(main())
