"""Queueing, capacity errors and cancellation, against a fake runtime (fast and deterministic)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from turnout.local.engine import EngineConfig, Finished, GenerationRequest, LocalEngine, SamplingParams, TextDelta
from turnout.local.errors import LocalCapacityError

from .fakes import FakeServer


def make(
    parallel: int = 1, max_queue: int = 2, queue_timeout: float = 5.0, delay: float = 0.01
) -> tuple[LocalEngine, FakeServer]:
    fake = FakeServer(delay)
    cfg = EngineConfig(
        model_path=Path("unused.gguf"), parallel=parallel, max_queue=max_queue, queue_timeout=queue_timeout
    )
    return LocalEngine(cfg, server=fake), fake


def req(n: int) -> GenerationRequest:
    return GenerationRequest("p", SamplingParams(max_tokens=n))


def test_bounded_queue_rejects_with_retry_after() -> None:
    engine, fake = make(parallel=1, max_queue=2)

    async def run() -> list[Any]:
        return await asyncio.gather(*[engine.generate(req(10)) for _ in range(5)], return_exceptions=True)

    results = asyncio.run(run())
    ok = [r for r in results if not isinstance(r, BaseException)]
    busy = [r for r in results if isinstance(r, LocalCapacityError)]
    assert len(ok) == 3 and len(busy) == 2
    assert all(r.finished.finish_reason == "length" and r.finished.completion_tokens == 10 for r in ok)
    assert all(1 <= b.retry_after <= 120 for b in busy)
    assert fake.max_running == 1 and fake.calls == 3
    assert engine.info()["active"] == 0 and engine.info()["waiting"] == 0
    engine.close()


def test_parallel_slots_run_together() -> None:
    engine, fake = make(parallel=2, max_queue=0)

    async def run() -> list[Any]:
        return await asyncio.gather(*[engine.generate(req(5)) for _ in range(3)], return_exceptions=True)

    results = asyncio.run(run())
    assert sum(isinstance(r, LocalCapacityError) for r in results) == 1
    assert fake.max_running == 2
    engine.close()


def test_queue_wait_times_out_as_capacity_error() -> None:
    engine, _ = make(parallel=1, max_queue=4, queue_timeout=0.2, delay=0.02)

    async def run() -> list[Any]:
        return await asyncio.gather(engine.generate(req(50)), engine.generate(req(1)), return_exceptions=True)

    first, second = asyncio.run(run())
    assert isinstance(first.finished, Finished)
    assert isinstance(second, LocalCapacityError) and "waited" in str(second)
    assert engine.info()["active"] == 0 and engine.info()["waiting"] == 0
    engine.close()


def test_closing_a_stream_cancels_the_runtime_call() -> None:
    engine, fake = make(delay=0.01)

    async def run() -> float:
        agen = engine.stream(req(10_000))
        n = 0
        async for ev in agen:
            assert isinstance(ev, TextDelta)
            n += 1
            if n == 3:
                break
        await agen.aclose()
        t0 = time.perf_counter()
        await engine.generate(req(1))  # admitted as soon as the cancelled call returns
        return time.perf_counter() - t0

    assert asyncio.run(run()) < 1.0
    assert fake.cancelled == 1
    engine.close()


def test_cancelling_the_consumer_task_cancels_generation_and_waiters() -> None:
    engine, fake = make(parallel=1, max_queue=2, delay=0.01)

    async def consume() -> None:
        async for _ in engine.stream(req(10_000)):
            pass

    async def run() -> None:
        running = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(engine.generate(req(5)))
        await asyncio.sleep(0.05)
        assert engine.info()["waiting"] == 1
        waiting.cancel()  # a client gone while queued never reaches the runtime
        running.cancel()
        for t in (running, waiting):
            with pytest.raises(asyncio.CancelledError):
                await t
        res = await engine.generate(req(2))
        assert res.finished.completion_tokens == 2

    asyncio.run(run())
    assert fake.cancelled == 1 and fake.calls == 2
    assert engine.info()["active"] == 0 and engine.info()["waiting"] == 0
    engine.close()


def test_close_releases_everything() -> None:
    engine, _ = make()
    engine.close()
    with pytest.raises(Exception, match="closed"):
        asyncio.run(engine.generate(req(1)))
