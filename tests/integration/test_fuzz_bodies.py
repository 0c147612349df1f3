"""Malformed bodies on every inference route: a 4xx in the route's envelope, never a 5xx.

A bounded, deterministic fuzz: each valid body of each dialect is walked, and every value in it
(and the body itself) is replaced in turn by one of a few hostile values (null, the wrong
container, a string, integers past 64 bits written as exact JSON digits, a deep nest), and every
list gets a `null` element appended. Each mutant is posted for real; the answer must not be a
5xx, and an answer that is an error must be a JSON error envelope. Found this way first:
`messages: [null]`, `content: [null]`, `seed`/`top_k` beyond 64 bits (500s, recorded as client
disconnects).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway

BIG = 123456789012345678901234567890  # 97 bits: orjson reads it as a float, int() makes it huge again
HOSTILE: tuple[Any, ...] = (None, [None], {}, "x", BIG, -1.5, [[[{}]]])
TOOL = {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}

MSG = [{"role": "user", "content": "hi"}]
BODIES: dict[str, dict[str, Any]] = {
    "/chat/completions#small": {"model": "test/echo", "messages": MSG, "seed": 1, "top_k": 2, "max_tokens": 8},
    "/messages#small": {"model": "test/echo", "messages": MSG, "top_k": 2, "max_tokens": 8},
    "/chat/completions": {
        "model": "test/echo", "max_tokens": 8, "seed": 1, "top_k": 2, "temperature": 0.5,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
        "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low", "max_tokens": 10}, "stop": ["\n\n"], "logit_bias": {"1": 1},
        "provider": {"order": ["fake"], "sort": "price"}, "models": ["test/echo-2"],
        "plugins": [{"id": "web"}], "usage": {"include": True},
    },
    "/messages": {
        "model": "test/echo", "max_tokens": 2048, "top_k": 2, "system": [{"type": "text", "text": "s"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                      "data": "AA=="}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                              {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": [{"type": "text", "text": "r"}]}]},
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 1024}, "metadata": {"user_id": "u"},
        "stop_sequences": ["x"], "output_config": {"effort": "low"},
    },
    "/responses": {
        "model": "test/echo", "max_output_tokens": 16, "instructions": "be brief", "store": False,
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "r"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"}, "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        "metadata": {"a": "b"}, "temperature": 0.5, "top_logprobs": 2,
    },
    "/completions": {
        "model": "test/echo", "prompt": ["hi", "there"], "max_tokens": 8, "seed": 3, "top_k": 2,
        "stop": ["x"], "logit_bias": {"1": 1}, "provider": {"sort": "price"},
    },
    "/embeddings": {
        "model": "test/echo", "input": ["a", "b"], "dimensions": 8, "encoding_format": "float",
        "provider": {"sort": "price"},
    },
}


def mutants(body: Any) -> Iterator[tuple[str, Any]]:
    """(where, mutated copy): each value replaced by each hostile value; each list grown by a null."""

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        yield path
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, (*path, i))

    def replaced(path: tuple[Any, ...], value: Any) -> Any:
        if not path:
            return value
        out = copy.deepcopy(body)
        node = out
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return out

    for path in walk(body, ()):
        where = "/".join(map(str, path)) or "<body>"
        for value in HOSTILE:
            yield f"{where} = {value!r}"[:120], replaced(path, value)
        node: Any = body
        for step in path:
            node = node[step]
        if isinstance(node, list):
            yield f"{where} + [null]", replaced(path, [*node, None])


@pytest.mark.parametrize("route", list(BODIES))
def test_no_mutant_gets_a_5xx(gateway: Gateway, route: str) -> None:
    base = BODIES[route]
    headers = {"authorization": f"Bearer {gateway.key}", "content-type": "application/json"}
    started = time.monotonic()
    cases = list(mutants(base))
    count = len(cases)

    def post(case: tuple[str, Any]) -> str | None:
        where, body = case
        # stdlib json writes big integers as exact digits, as a hostile client would
        r = client.post(route.partition("#")[0], content=json.dumps(body))
        if r.status_code >= 500:
            return f"{r.status_code} {where}: {r.text[:200]}"
        if r.status_code >= 400:
            data = r.json()
            if not r.headers["content-type"].startswith("application/json") or "error" not in data:
                return f"{r.status_code} {where}: not an error envelope: {r.text[:200]}"
        return None

    with httpx.Client(base_url=gateway.api, headers=headers, timeout=20) as client, \
            ThreadPoolExecutor(8) as pool:  # most mutants wait on the upstream: overlap them
        failures = [f for f in pool.map(post, cases) if f is not None]
    assert count > 20  # the walk really happened
    assert time.monotonic() - started < 300
    assert not failures, f"{len(failures)} of {count} mutants got a 5xx:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize(("route", "param"), [
    ("/chat/completions", "seed"), ("/chat/completions", "top_k"), ("/chat/completions", "max_tokens"),
    ("/completions", "seed"), ("/messages", "top_k"), ("/messages", "max_tokens"),
])
@pytest.mark.parametrize("value", [BIG, -BIG, 1e300, 2**64 - 1])
def test_integers_beyond_64_bits_are_a_400_naming_the_parameter(gateway: Gateway, route: str, param: str,
                                                                value: Any) -> None:
    body = {**BODIES[route.partition("#")[0] + ("#small" if route in ("/chat/completions", "/messages") else "")]}
    body[param] = value
    if param == "max_tokens" and value < 0:
        return  # "at least 1" says it already
    r = httpx.post(f"{gateway.api}{route}", content=json.dumps(body), timeout=20,
                   headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert param in r.text
