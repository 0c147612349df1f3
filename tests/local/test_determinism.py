"""`temperature: 0` (or a fixed seed) gives the same answer every time, from the first request on.

Before the fix the first answer after start-up differed from all later ones: the later ones
reused the prompt's KV cache from the first, and llama.cpp's kernels round differently for the
few tokens processed after a cache hit than for the whole prompt in one batch, so a near tie in
the logits flipped. Each test starts a fresh engine (a fresh process, as far as the cache goes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.local.chat import complete_chat, prepare_chat
from turnout.local.engine import EngineConfig, GenerationRequest, LocalEngine, SamplingParams

from .conftest import needs_chat

# Prompts whose greedy answer changed once the prompt came from the cache (measured on the
# project's machine); several, so that a CPU whose rounding differs still meets one.
PROMPTS = ("Write a haiku about autumn.", "Describe the water cycle.", "In 1492, Columbus",
           "The history of the Roman Empire")


@pytest.fixture
def fresh_engine(gguf_path: Path) -> Iterator[LocalEngine]:
    eng = LocalEngine(EngineConfig(model_path=gguf_path, n_ctx=2048))
    eng.load()
    yield eng
    eng.close()


def answers(engine: LocalEngine, prompt: str, sampling: SamplingParams, times: int = 4) -> list[str]:
    prepared = prepare_chat([{"role": "user", "content": prompt}], sampling=sampling)

    async def run() -> list[str]:
        return [(await complete_chat(engine, prepared)).content or "" for _ in range(times)]

    return asyncio.run(run())


@needs_chat
@pytest.mark.slow
def test_greedy_answers_are_identical_from_the_first_request(fresh_engine: LocalEngine) -> None:
    for prompt in PROMPTS:
        got = answers(fresh_engine, prompt, SamplingParams(temperature=0, max_tokens=40))
        assert got[0], prompt
        assert got == [got[0]] * 4, f"{prompt!r}: {got}"


@needs_chat
@pytest.mark.slow
def test_a_fixed_seed_repeats_from_the_first_request(fresh_engine: LocalEngine) -> None:
    got = answers(fresh_engine, PROMPTS[0], SamplingParams(temperature=0.7, seed=7, max_tokens=40), times=3)
    assert got == [got[0]] * 3, got


def test_only_random_sampling_reuses_the_prompt_cache(tmp_path: Path) -> None:
    engine = LocalEngine(EngineConfig(model_path=tmp_path / "unused.gguf"), server=object())
    try:
        def cache(**kw: float | int) -> object:
            return engine._payload(GenerationRequest("hi", SamplingParams(**kw)))["cache_prompt"]  # type: ignore[arg-type]

        assert cache(temperature=0) is False
        assert cache(temperature=1.0, seed=3) is False
        assert cache(temperature=0.7) is True
        assert cache() is True  # llama.cpp's default sampler: random
    finally:
        engine.close()
