"""Property tests of every dialect's parser: arbitrary JSON, and arbitrary mutations of valid
requests, give a parsed request or a 400 that names a parameter, never another exception."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.api.admin import parse_key_fields
from turnout.api.anthropic.protocol import to_chat_request as from_anthropic
from turnout.api.completions import to_chat_requests as from_completions
from turnout.api.embeddings import to_embedding_request as from_embeddings
from turnout.api.openai.protocol import to_chat_request as from_openai
from turnout.api.responses.protocol import to_responses_request as from_responses
from turnout.model.errors import GatewayError

# JSON as orjson decodes it: 64-bit integers (longer literals become floats), finite floats.
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=8) | st.sampled_from(["user", "assistant", "tool", "text", "image_url", "function", "auto",
                                             "json_schema", "base64", "message", "input_text", "tool_use"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6) | st.sampled_from(["type", "role", "content", "text"]),
                                             inner, max_size=4), max_leaves=20)

MSG = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
VALID: dict[str, tuple[Callable[[Any], Any], dict[str, Any]]] = {
    "openai": (from_openai, {"model": "a/b", "messages": [MSG, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}], "temperature": 0.5, "max_tokens": 10,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "reasoning": {"effort": "low"}, "response_format": {"type": "json_object"}}),
    "anthropic": (from_anthropic, {"model": "a/b", "max_tokens": 2000, "system": "s", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}], "thinking": {"type": "enabled", "budget_tokens": 1024}}),
    "responses": (from_responses, {"model": "a/b", "instructions": "i", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "r"}],
        "tools": [{"type": "function", "name": "f"}], "text": {"format": {"type": "json_object"}}}),
    "completions": (from_completions, {"model": "a/b", "prompt": ["a", "b"], "max_tokens": 5, "stop": ["\n"]}),
    "embeddings": (from_embeddings, {"model": "a/b", "input": ["a", "b"], "dimensions": 8}),
    "keys": (lambda b: parse_key_fields(b, creating=True), {"name": "k", "limit": 5, "limit_reset": "daily"}),
}


def value_or_400(parse: Callable[[Any], Any], body: Any) -> bool:
    """True when parsed; a refusal must be a 400 naming what is wrong."""
    try:
        parse(body)
    except GatewayError as exc:
        assert exc.status == 400 and exc.param and exc.message, exc
        return False
    return True


@pytest.mark.parametrize("dialect", list(VALID))
def test_the_valid_requests_parse(dialect: str) -> None:
    parse, body = VALID[dialect]
    assert value_or_400(parse, copy.deepcopy(body))


@pytest.mark.parametrize("dialect", list(VALID))
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=json_values)
def test_arbitrary_json(dialect: str, body: Any) -> None:
    value_or_400(VALID[dialect][0], body)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value (object keys and array indexes), the root excluded."""
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(paths(v, (*prefix, k)))
    return out


@st.composite
def mutated(draw: st.DrawFn, dialect: str) -> Any:
    body = copy.deepcopy(VALID[dialect][1])
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(body)))
        parent = body
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(json_values)
        if not paths(body):
            break
    return body


@pytest.mark.parametrize("dialect", list(VALID))
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutations_of_valid_requests(dialect: str, data: st.DataObject) -> None:
    value_or_400(VALID[dialect][0], data.draw(mutated(dialect)))
