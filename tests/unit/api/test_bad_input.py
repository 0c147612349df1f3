"""Malformed bodies of any shape get a GatewayError (a 400 in the dialect's envelope), never a crash."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from turnout.api.anthropic.protocol import to_chat_request as from_anthropic
from turnout.api.completions import to_chat_requests as from_completions
from turnout.api.embeddings import to_embedding_request as from_embeddings
from turnout.api.responses.protocol import to_responses_request as from_responses
from turnout.model.errors import GatewayError

ATOMS: list[Any] = [None, True, 0, -1, 1.5, "", "x", "user", "text", [], {}, [1], ["x"], [{}], {"type": "text"},
                    [None], [[1]], {"a": 1}]
KEYS = ["type", "role", "content", "text", "source", "media_type", "data", "url", "id", "name", "input", "tool_use_id",
        "thinking", "signature", "image_url", "call_id", "arguments", "output", "summary", "encrypted_content", "format",
        "schema", "effort", "budget_tokens", "detail", "file_id", "file_data"]


def junk(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(ATOMS)
    if r < 0.7:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(KEYS): junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def anthropic_body(rng: random.Random) -> dict[str, Any]:
    return {"model": "a/b", "max_tokens": rng.choice([1, 100, None, "x"]), "messages": junk(rng), "system": junk(rng),
            "tools": junk(rng), "tool_choice": junk(rng), "thinking": junk(rng), "metadata": junk(rng),
            "stop_sequences": junk(rng), "output_config": junk(rng)}


def responses_body(rng: random.Random) -> dict[str, Any]:
    return {"model": "a/b", "input": junk(rng), "instructions": junk(rng), "tools": junk(rng), "tool_choice": junk(rng),
            "text": junk(rng), "reasoning": junk(rng), "max_output_tokens": junk(rng)}


CASES: list[tuple[Callable[[Any], Any], Callable[[random.Random], dict[str, Any]]]] = [
    (from_anthropic, anthropic_body),
    (from_responses, responses_body),
    (from_completions, lambda rng: {"model": "a/b", "prompt": junk(rng), "stop": junk(rng), "echo": junk(rng), "n": junk(rng)}),
    (from_embeddings, lambda rng: {"model": "a/b", "input": junk(rng), "dimensions": junk(rng), "encoding_format": junk(rng)}),
]


@pytest.mark.parametrize(("parse", "make"), CASES, ids=["anthropic", "responses", "completions", "embeddings"])
def test_random_bodies_fail_cleanly(parse: Callable[[Any], Any], make: Callable[[random.Random], dict[str, Any]]) -> None:
    rng = random.Random(6)
    rejected = 0
    for _ in range(3000):
        body = {k: v for k, v in make(rng).items() if rng.random() > 0.3}
        try:
            parse(body)
        except GatewayError as exc:
            assert exc.status == 400 and exc.param
            rejected += 1
    assert rejected > 100  # the generator does produce bad input
