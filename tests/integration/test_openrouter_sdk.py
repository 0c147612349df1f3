"""OpenRouter's own Python SDK (`openrouter`), strict about response shapes, against turnout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from openrouter import OpenRouter

from tests.conftest import COMPLETION_PRICE, PROMPT_PRICE, Gateway


@pytest.fixture
def client(gateway: Gateway) -> Iterator[OpenRouter]:
    with OpenRouter(api_key=gateway.key, server_url=gateway.api) as c:
        yield c


def test_chat_send(client: OpenRouter) -> None:
    r = client.chat.send(model="test/echo", messages=[{"role": "user", "content": "hello"}], stream=False)
    assert r.choices[0].message.content == "echo: hello"
    assert r.choices[0].finish_reason == "stop"
    u = r.usage
    expected = u.prompt_tokens * Decimal(PROMPT_PRICE) + u.completion_tokens * Decimal(COMPLETION_PRICE)
    assert Decimal(str(u.cost)) == expected


def test_chat_stream_with_tools(client: OpenRouter) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    events = list(client.chat.send(model="test/tools", messages=[{"role": "user", "content": "hi"}], stream=True, tools=tools))
    calls = [tc for e in events if e.choices for tc in (e.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "call_abc123" and calls[0].function.name == "get_weather"
    assert json.loads("".join(c.function.arguments or "" for c in calls)) == {"city": "Paris"}
    assert events[-1].usage is not None and events[-1].choices == []


def test_reasoning_round_trip(client: OpenRouter) -> None:
    r = client.chat.send(model="test/reasoning", messages=[{"role": "user", "content": "2+2"}], stream=False, reasoning={"effort": "high"})
    assert r.choices[0].message.reasoning == "2 plus 2 is 4."
    assert r.usage.completion_tokens_details.reasoning_tokens == 5


def test_models_and_endpoints(client: OpenRouter) -> None:
    models = client.models.list().result.data
    glm = next(m for m in models if m.id == "z-ai/glm-4.5v")
    assert glm.context_length == 65536 and glm.pricing.prompt == "0.0000006" and glm.pricing.input_cache_read == "0.00000011"
    assert glm.top_provider.max_completion_tokens == 16384
    endpoints = client.endpoints.list(author="test", slug="echo").data.endpoints
    assert endpoints[0].provider_name == "Fake" and endpoints[0].pricing.completion == COMPLETION_PRICE
