"""The official `openai` SDK against turnout over a real socket, through to the fake upstream."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest

from tests.conftest import CACHE_READ_PRICE, COMPLETION_PRICE, PROMPT_PRICE, Gateway


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.api, api_key=gateway.key, max_retries=0, timeout=20)


def generation(gateway: Gateway, gen_id: str) -> dict:
    r = httpx.get(f"{gateway.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gateway.key}"})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def expected_cost(prompt: int, completion: int, cached: int = 0) -> Decimal:
    return (prompt - cached) * Decimal(PROMPT_PRICE) + cached * Decimal(CACHE_READ_PRICE) + completion * Decimal(COMPLETION_PRICE)


def test_plain_completion(client: openai.OpenAI, gateway: Gateway) -> None:
    r = client.chat.completions.create(model="test/echo", messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "echo: hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "test/echo"
    assert r.id.startswith("gen-")
    extra = r.model_extra or {}
    assert extra["provider"] == "Fake"
    u = r.usage
    assert u is not None and u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert Decimal(str(u.model_extra["cost"])) == expected_cost(u.prompt_tokens, u.completion_tokens)
    sent = gateway.upstream.state.requests[-1]
    assert sent["body"]["model"] == "echo"  # the upstream's own model name
    assert sent["headers"]["authorization"] == "Bearer sk-upstream"  # the provider's key, not the caller's


def test_parameters_and_unknown_fields_reach_the_upstream(client: openai.OpenAI, gateway: Gateway) -> None:
    client.chat.completions.create(
        model="test/echo",
        messages=[{"role": "user", "content": "x"}],
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=50,
        seed=7,
        stop=["END"],
        extra_body={"top_k": 40, "vendor_knob": {"a": 1}, "provider": {"order": ["fake"]}},
    )
    body = gateway.upstream.state.requests[-1]["body"]
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["max_tokens"] == 50
    assert body["seed"] == 7 and body["stop"] == ["END"] and body["top_k"] == 40
    assert body["vendor_knob"] == {"a": 1}  # unknown fields pass through untouched
    assert "provider" not in body  # gateway-only fields never go upstream


def test_streaming_with_usage_and_cost(client: openai.OpenAI, gateway: Gateway) -> None:
    stream = client.chat.completions.create(
        model="test/echo", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]  # exactly one finish reason
    assert chunks[-1].choices == [] and chunks[-1].usage is not None  # usage last
    usage = chunks[-1].usage
    assert Decimal(str(usage.model_extra["cost"])) == expected_cost(usage.prompt_tokens, usage.completion_tokens)
    assert gateway.upstream.state.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_tool_calls(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    r = client.chat.completions.create(model="test/tools", messages=[{"role": "user", "content": "weather?"}], tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_abc123", "get_weather", {"city": "Paris"})


def test_streamed_tool_calls_keep_index_and_id(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    chunks = list(
        client.chat.completions.create(
            model="test/tools", messages=[{"role": "user", "content": "weather?"}], tools=tools, stream=True
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_abc123" and deltas[0].function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)
    assert all(d.id is None for d in deltas[1:])
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_reasoning_is_normalized(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="test/reasoning", messages=[{"role": "user", "content": "2+2?"}], extra_body={"reasoning": {"effort": "low"}}
    )
    msg = r.choices[0].message
    assert msg.content == "The answer is 4."
    assert msg.model_extra["reasoning"] == "2 plus 2 is 4."
    assert r.usage.completion_tokens_details.reasoning_tokens == 5


def test_reasoning_excluded_is_still_billed(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="test/reasoning", messages=[{"role": "user", "content": "2+2?"}], extra_body={"reasoning": {"exclude": True}}
    )
    assert r.choices[0].message.model_extra.get("reasoning") is None
    assert r.usage.completion_tokens_details.reasoning_tokens == 5


def test_streamed_reasoning(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="test/reasoning", messages=[{"role": "user", "content": "2+2?"}], stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning") or "" for c in chunks if c.choices)
    assert reasoning.strip() == "2 plus 2 is 4."
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The answer is 4."


def test_cached_tokens_are_priced_at_cache_read(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="test/cached", messages=[{"role": "user", "content": "a long shared prefix " * 5}])
    u = r.usage
    cached = u.prompt_tokens_details.cached_tokens
    assert cached > 0
    assert Decimal(str(u.model_extra["cost"])) == expected_cost(u.prompt_tokens, u.completion_tokens, cached)


def test_generation_record(client: openai.OpenAI, gateway: Gateway) -> None:
    r = client.with_options(default_headers={"HTTP-Referer": "https://app.example", "X-Title": "Example App"}).chat.completions.create(
        model="test/echo", messages=[{"role": "user", "content": "record me"}]
    )
    g = generation(gateway, r.id)
    assert g["model"] == "test/echo" and g["provider_name"] == "Fake" and g["status"] == "ok"
    assert g["tokens_prompt"] == r.usage.prompt_tokens and g["tokens_completion"] == r.usage.completion_tokens
    assert Decimal(str(g["total_cost"])) == Decimal(str(r.usage.model_extra["cost"]))
    assert g["app_title"] == "Example App" and g["app_referer"] == "https://app.example"
    assert g["streamed"] is False and g["finish_reason"] == "stop" and g["latency"] is not None
    assert g["dialect_in"] == "openai" and g["dialect_out"] == "openai"


def test_models_list_via_sdk(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"z-ai/glm-4.6", "z-ai/glm-4.6:exacto", "z-ai/glm-4.6v", "z-ai/glm-4.5v", "test/echo"} <= ids
