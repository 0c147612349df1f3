"""The `Counters` contract (memory always; Redis when it answers) and the rate limiter on top of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from turnout.core.money.keys import KeyState
from turnout.core.money.ratelimit import WINDOW, RateLimiter, estimate, retry_after
from turnout.model.errors import GatewayError
from turnout.store.base import Counters

T0 = 1_800_000_000.0 - (1_800_000_000.0 % WINDOW)  # the start of a window


def test_windows_roll_over(make_counters: Callable[[], Counters]) -> None:
    async def body() -> None:
        c = make_counters()
        try:
            assert await c.add("n", 2, WINDOW, T0 + 1) == (2, 0)
            assert await c.add("n", 3, WINDOW, T0 + 59) == (5, 0)
            assert await c.read("n", WINDOW, T0 + 30) == (5, 0)
            assert await c.add("n", 1, WINDOW, T0 + 61) == (1, 5)  # the previous window is remembered
            assert await c.add("other", -1, WINDOW, T0) == (-1, 0)
            c.add_later("n", 4, WINDOW, T0 + 62)
            await asyncio.sleep(0.05)
            assert await c.read("n", WINDOW, T0 + 62) == (5, 5)
            assert await c.read("n", WINDOW, T0 + 200) == (0, 0)  # and forgotten two windows on
        finally:
            await c.close()

    asyncio.run(body())


def test_concurrent_adds_are_atomic(make_counters: Callable[[], Counters]) -> None:
    async def body() -> None:
        c = make_counters()
        try:
            totals = await asyncio.gather(*(c.add("burst", 1, WINDOW, T0 + 5) for _ in range(50)))
            assert sorted(t for t, _ in totals) == list(range(1, 51))  # every add saw a distinct total
        finally:
            await c.close()

    asyncio.run(body())


def key(rpm: int | None = None, tpm: int | None = None) -> KeyState:
    return KeyState("h" * 64, "k", "label", None, Decimal(0), False, rate_limit_rpm=rpm, rate_limit_tpm=tpm)


def test_requests_per_minute_refuses_with_retry_after(make_counters: Callable[[], Counters]) -> None:
    async def body() -> None:
        limiter = RateLimiter(make_counters(), default_rpm=None, default_tpm=None)
        try:
            k = key(rpm=3)
            for _ in range(3):
                await limiter.admit(k)
            with pytest.raises(GatewayError) as err:
                await limiter.admit(k)
            assert err.value.status == 429 and err.value.retry_after is not None and 1 <= err.value.retry_after <= 120
            assert "3 requests per minute" in err.value.message
            await limiter.admit(key(rpm=0))  # 0: unlimited
            await limiter.admit(None)
        finally:
            await limiter.counters.close()

    asyncio.run(body())


def test_tokens_per_minute_stops_the_next_request(make_counters: Callable[[], Counters]) -> None:
    async def body() -> None:
        limiter = RateLimiter(make_counters(), default_rpm=None, default_tpm=100)
        try:
            k = key()
            await limiter.admit(k)
            limiter.count_tokens(k, 150)
            await asyncio.sleep(0.05)
            with pytest.raises(GatewayError) as err:
                await limiter.admit(k)
            assert err.value.status == 429 and "100 tokens per minute" in err.value.message
        finally:
            await limiter.counters.close()

    asyncio.run(body())


def test_sliding_estimate_and_retry_after() -> None:
    assert estimate(10, 0, T0 + 30) == 10
    assert estimate(0, 10, T0 + 30) == pytest.approx(5)  # half of the previous window still overlaps
    # 10 in the previous window, limit 10: after 1 s a tenth of it has slid out
    assert retry_after(0, 10, 9, T0) == 6
    assert retry_after(5, 0, 4, T0 + 50) == 10 + 12  # next window, then 1/5 of the old one must slide out


@pytest.mark.redis
def test_redis_holds_are_atomic_and_release_once() -> None:
    from tests.unit.store.conftest import REDIS_URL, reachable

    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    pytest.importorskip("redis", reason="the redis package is not installed: pip install '.[redis]'")
    import uuid

    from tests.unit.store.backends import ran
    from turnout.store.redis import RedisHolds

    ran("redis")

    async def body() -> None:
        holds = RedisHolds(REDIS_URL, prefix=f"turnout-test:{uuid.uuid4().hex[:8]}:")
        try:
            limit, spent, amount = Decimal("1"), Decimal("0.25"), Decimal("0.1")
            results = await asyncio.gather(*(holds.hold("s", f"g{i}", limit, spent, amount, 60) for i in range(20)))
            taken = [i for i, (ok, _) in enumerate(results) if ok]
            assert len(taken) == 7  # 0.75 left: seven holds of 0.1, atomically, out of twenty at once
            ok, left = await holds.hold("s", "late", limit, Decimal("0"), amount, 60)
            assert not ok and left == Decimal("0.05")  # the seed is used once: the scope keeps its own spend
            first = f"g{taken[0]}"  # whichever seven won the race: release one of them
            await holds.release("s", first, Decimal("0.02"))
            await holds.release("s", first, Decimal("0.02"))  # a replayed release counts once
            ok, left = await holds.hold("s", "late", limit, spent, amount, 60)
            assert ok and left == Decimal("0.13")  # 1 - 0.25 - 0.02 - 6 x 0.1
            holds.release_later("s", "late", Decimal("0"))
        finally:
            await holds.close()

    asyncio.run(body())
