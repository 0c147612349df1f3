"""The body budget's queue: FIFO turns, a bounded wait, nothing lost when a waiter gives up."""

from __future__ import annotations

import asyncio

import pytest

from turnout.api.body import BodyBudget, count_values
from turnout.model.errors import GatewayError


def test_takes_within_the_budget_and_one_body_always_fits() -> None:
    b = BodyBudget(100)
    assert b.try_take(60) and b.try_take(40)
    assert not b.try_take(1)
    b.give(100)
    assert b.try_take(500)  # larger than the budget, but nothing else is held: it may proceed
    assert not b.try_take(1)
    b.give(500)
    assert b.used == 0


def test_waiters_are_served_in_turn_and_time_out_with_503() -> None:
    async def scenario() -> None:
        b = BodyBudget(100)
        assert b.try_take(100)
        order: list[str] = []

        async def wait(name: str, n: int, timeout: float) -> None:
            await b.take(n, timeout)
            order.append(name)

        first = asyncio.create_task(wait("first", 80, 5))
        await asyncio.sleep(0)
        second = asyncio.create_task(wait("second", 10, 5))
        await asyncio.sleep(0)
        assert not b.try_take(1), "a newcomer may not pass the queue"
        b.give(100)
        await asyncio.gather(first, second)
        assert order == ["first", "second"] and b.used == 90
        with pytest.raises(GatewayError) as err:
            await b.take(50, 0.05)
        assert err.value.status == 503 and err.value.retry_after == 1
        b.give(90)
        assert b.used == 0 and not b._waiters

    asyncio.run(scenario())


def test_a_waiter_that_gives_up_lets_the_next_one_in() -> None:
    async def scenario() -> None:
        b = BodyBudget(100)
        assert b.try_take(50)
        big = asyncio.create_task(b.take(100, 10))  # must wait for the 50 to come back
        await asyncio.sleep(0)
        small = asyncio.create_task(b.take(30, 10))  # fits, but waits its turn behind the big one
        await asyncio.sleep(0.01)
        assert not small.done()
        big.cancel()  # the big one's client went away
        await asyncio.sleep(0.01)
        assert small.done() and b.used == 80
        b.give(80)
        assert b.used == 0

    asyncio.run(scenario())


def test_parsed_bodies_may_fill_twice_the_budget() -> None:
    b = BodyBudget(100)
    assert b.try_take(100) and b.take_parsed(100, 100)  # alone: beyond twice the budget too
    assert b.take_parsed(500, 200)
    b = BodyBudget(100)
    assert b.try_take(60) and b.try_take(40)
    assert b.take_parsed(100, 60)
    assert not b.take_parsed(1, 40)


def test_count_values_is_an_upper_bound() -> None:
    assert count_values(b'{"a": [1, 2, {"b": "x,y"}]}') == 6  # the comma in the string counts too
    assert count_values(b"[{},{},{}]") == 6


def test_a_large_body_is_counted_once() -> None:
    """A body with no separators (one long string) is counted chunk by chunk, never again from the
    start: 32 MiB in 64 KiB chunks reads in well under a second."""
    import time

    from starlette.requests import Request

    from turnout.api.body import read_json

    chunk = b"a" * 65536
    chunks = [b'"'] + [chunk] * 512 + [b'"']

    async def scenario() -> int:
        it = iter(enumerate(chunks))

        async def receive() -> dict[str, object]:
            i, part = next(it)
            return {"type": "http.request", "body": part, "more_body": i < len(chunks) - 1}

        request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
        started = time.perf_counter()
        value = await read_json(request, 64 << 20, BodyBudget(128 << 20), 500_000, 1.0)
        assert len(value) == 512 * 65536
        return int((time.perf_counter() - started) * 1000)

    assert asyncio.run(scenario()) < 1000
