"""OpenRouter's own Python SDK (`openrouter`) against turnout: chat (plain, streamed, tools,
reasoning, errors), Responses, embeddings, the catalog.

The SDK is strict about required fields but quietly drops an optional object that does not
validate (its `OptionalNullable` fields fall back to `Unset`): a `cost_details` without
`upstream_inference_prompt_cost` simply disappears. So every body the SDK received is recorded on
the way in and parsed again with the SDK's own models, and any field present on the wire that the
SDK dropped fails the test (`dropped`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter, components, errors, operations
from openrouter.types.basemodel import Unset
from openrouter.utils.serializers import unmarshal
from pydantic import BaseModel

from tests.conftest import COMPLETION_PRICE, PROMPT_PRICE, Upstream, create_key, gateway_config
from tests.fakes.openai_embeddings_upstream import EmbeddingsState, dialect_models
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import Settings, load_settings

ADMIN = "sk-tn-admin-v1-openrouter-sdk-0123456789"
USER = [{"role": "user", "content": "hello there"}]
LONG = [{"role": "user", "content": "one two three four five six"}]  # test/cut drops the line after two chunks
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@dataclass
class Exchange:
    path: str
    status: int
    content_type: str
    body: bytearray = field(default_factory=bytearray)


class Recording(httpx.HTTPTransport):
    """Keeps every response body as the SDK reads it (streams included)."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        ex = Exchange(request.url.path, response.status_code, response.headers.get("content-type", ""))
        self.exchanges.append(ex)
        inner = response.stream

        class Tee(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in inner:  # type: ignore[union-attr]
                    ex.body.extend(chunk)
                    yield chunk

            def close(self) -> None:
                inner.close()  # type: ignore[union-attr]

        response.stream = Tee()
        return response


def dropped(value: Any, raw: Any, path: str = "") -> list[str]:
    """Paths present in the raw JSON that the SDK's parsed model left unset."""
    out: list[str] = []
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            if key not in raw or raw[key] is None:
                continue
            got = getattr(value, name)
            if isinstance(got, Unset):
                out.append(path + key)
            else:
                out += dropped(got, raw[key], f"{path}{key}.")
    elif isinstance(value, list) and isinstance(raw, list):
        for i, (v, r) in enumerate(zip(value, raw, strict=False)):
            out += dropped(v, r, f"{path}{i}.")
    return out


def strictly(raw: Any, typ: Any, where: str) -> Any:
    parsed = unmarshal(raw, typ)
    lost = dropped(parsed, raw)
    assert not lost, f"{where}: the SDK dropped {lost} of {json.dumps(raw)[:2000]}"
    return parsed


def sse_data(body: bytes) -> list[Any]:
    events = []
    for block in body.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                events.append(json.loads(line[5:]))
    return events


def check_exchange(ex: Exchange) -> None:
    """Parse one recorded answer again with the SDK's own models, refusing silently dropped fields."""
    where = f"{ex.status} {ex.path}"
    if ex.status >= 400:
        strictly(json.loads(ex.body), errors.BadRequestResponseErrorData, where)
        return
    streamed = ex.content_type.startswith("text/event-stream")
    if ex.path.endswith("/chat/completions"):
        if streamed:
            for chunk in sse_data(ex.body):
                strictly(chunk, components.ChatStreamChunk, where)
        else:
            strictly(json.loads(ex.body), components.ChatResult, where)
    elif ex.path.endswith("/responses"):
        if streamed:
            for event in sse_data(ex.body):
                strictly(event, components.StreamEvents, where)
        else:
            strictly(json.loads(ex.body), components.OpenResponsesResult, where)
    elif ex.path.endswith("/embeddings"):
        strictly(json.loads(ex.body), operations.CreateEmbeddingsResponseBody, where)


@dataclass
class Env:
    api: str
    key: str
    settings: Settings


@pytest.fixture(scope="module")
def env(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with serve(create_embeddings_upstream(EmbeddingsState())) as embeddings_url:
        config = gateway_config(upstream.url)
        providers, models = dialect_models(upstream.url, embeddings_url)
        data_dir: Path = tmp_path_factory.mktemp("openrouter-sdk")
        settings = load_settings(
            None, env={}, data_dir=data_dir, keepalive_interval=0.5, read_timeout=2.0,
            providers={**config["providers"], **providers}, models={**config["models"], **models}, admin_key=ADMIN,
        )
        key = create_key(settings, "openrouter-sdk")
        with serve(create_app(settings)) as url:
            yield Env(f"{url}/api/v1", key, settings)


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def client(env: Env, recording: Recording) -> Iterator[OpenRouter]:
    with httpx.Client(transport=recording, timeout=30) as http, OpenRouter(
        api_key=env.key, server_url=env.api, client=http, retry_config=None,
    ) as c:
        yield c
    assert recording.exchanges, "the test made no request"
    for ex in recording.exchanges:
        check_exchange(ex)


def check_usage(u: components.ChatUsage) -> None:
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.is_byok is False
    assert isinstance(u.cost_details, components.CostDetails)
    total = Decimal(str(u.cost_details.upstream_inference_prompt_cost)) + Decimal(str(u.cost_details.upstream_inference_completions_cost))
    assert total == Decimal(str(u.cost)) > 0
    assert u.prompt_tokens_details.cached_tokens == 0 and u.completion_tokens_details.reasoning_tokens is not None


def test_chat_send(client: OpenRouter) -> None:
    r = client.chat.send(model="test/echo", messages=USER, stream=False)
    assert r.choices[0].message.content == "echo: hello there"
    assert r.choices[0].finish_reason == "stop"
    u = r.usage
    expected = u.prompt_tokens * Decimal(PROMPT_PRICE) + u.completion_tokens * Decimal(COMPLETION_PRICE)
    assert Decimal(str(u.cost)) == expected
    check_usage(u)
    assert Decimal(str(u.cost_details.upstream_inference_completions_cost)) == u.completion_tokens * Decimal(COMPLETION_PRICE)


def test_chat_stream(client: OpenRouter) -> None:
    events = list(client.chat.send(model="test/echo", messages=USER, stream=True))
    assert "".join(e.choices[0].delta.content or "" for e in events if e.choices) == "echo: hello there"
    assert events[-1].choices == [] and events[-1].usage is not None
    check_usage(events[-1].usage)


def test_chat_stream_with_tools(client: OpenRouter) -> None:
    events = list(client.chat.send(model="test/tools", messages=[{"role": "user", "content": "hi"}], stream=True, tools=[WEATHER]))
    calls = [tc for e in events if e.choices for tc in (e.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "call_abc123" and calls[0].function.name == "get_weather"
    assert json.loads("".join(c.function.arguments or "" for c in calls)) == {"city": "Paris"}
    assert events[-1].usage is not None and events[-1].choices == []
    r = client.chat.send(model="test/tools", messages=[{"role": "user", "content": "hi"}], stream=False, tools=[WEATHER])
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_reasoning_round_trip(client: OpenRouter) -> None:
    r = client.chat.send(model="test/reasoning", messages=[{"role": "user", "content": "2+2"}], stream=False, reasoning={"effort": "high"})
    assert r.choices[0].message.reasoning == "2 plus 2 is 4."
    assert r.usage.completion_tokens_details.reasoning_tokens == 5
    events = list(client.chat.send(model="test/reasoning", messages=[{"role": "user", "content": "2+2"}], stream=True,
                                   reasoning={"effort": "high"}))
    assert "".join(e.choices[0].delta.reasoning or "" for e in events if e.choices).strip() == "2 plus 2 is 4."


def test_errors(client: OpenRouter, env: Env) -> None:
    with pytest.raises(errors.BadRequestResponseError) as bad:
        client.chat.send(model="nobody/nothing", messages=USER, stream=False)
    assert bad.value.data.error.code == 400 and bad.value.data.error.metadata == {"param": "model"}
    with pytest.raises(errors.NotFoundResponseError):
        client.chat.send(model="test/text-only", messages=USER, stream=False, tools=[WEATHER])
    with pytest.raises(errors.BadRequestResponseError) as upstream:
        client.chat.send(model="test/error-400-2", messages=USER, stream=False)
    assert "bad role" in upstream.value.data.error.message
    with OpenRouter(api_key="sk-tn-v1-nope", server_url=env.api, retry_config=None) as stranger, \
            pytest.raises(errors.UnauthorizedResponseError):
        stranger.chat.send(model="test/echo", messages=USER, stream=False)
    events = list(client.chat.send(model="test/cut", messages=LONG, stream=True))
    failed = [e for e in events if e.error is not None]
    assert failed and failed[0].error.code == 502 and failed[0].choices[0].finish_reason == "error"


def test_responses(client: OpenRouter) -> None:
    r = client.responses.send(model="test/echo", input="hello there")
    assert r.status == "completed" and r.usage.cost > 0
    assert r.usage.cost_details.upstream_inference_input_cost + r.usage.cost_details.upstream_inference_output_cost == pytest.approx(r.usage.cost)
    events = list(client.responses.send(model="test/echo", input="hello there", stream=True))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "echo: hello there"
    assert events[-1].type == "response.completed"
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    t = client.responses.send(model="test/tools", input="hi", tools=tools)
    assert any(o.type == "function_call" and o.name == "get_weather" for o in t.output)
    list(client.responses.send(model="test/tools", input="hi", tools=tools, stream=True))
    rr = client.responses.send(model="test/reasoning", input="2+2", reasoning={"effort": "high"})
    assert any(o.type == "reasoning" for o in rr.output) and rr.usage.output_tokens_details.reasoning_tokens == 5
    list(client.responses.send(model="test/reasoning", input="2+2", reasoning={"effort": "high"}, stream=True))
    with pytest.raises(errors.BadRequestResponseError):
        client.responses.send(model="nobody/nothing", input="hi")
    failed = list(client.responses.send(model="test/cut", input=LONG[0]["content"], stream=True))
    assert failed[-1].type == "response.failed"


def test_embeddings(client: OpenRouter) -> None:
    r = client.embeddings.generate(model="test/embed", input=["one", "two"])
    assert len(r.data) == 2 and r.usage.cost > 0 and r.usage.cost_details.upstream_inference_prompt_cost == r.usage.cost


def test_key_credits_and_generation(client: OpenRouter) -> None:
    key = client.api_keys.get_current_key_metadata().data
    assert key.label.startswith("sk-tn-v1-") and key.is_management_key is False
    assert client.credits.get_credits().data.total_usage >= 0
    done = client.chat.send(model="test/echo", messages=USER, stream=False)
    for _ in range(50):  # the record is written by the accounting queue
        try:
            gen = client.generations.get_generation(id=done.id).data
            break
        except errors.NotFoundResponseError:
            time.sleep(0.1)
    else:
        raise AssertionError("no generation record")
    assert gen.id == done.id and gen.total_cost == done.usage.cost and gen.created_at.endswith("Z")
    assert gen.provider_responses[0].status == 200
    assert key.budgets == [] and key.effective_budget is None


def test_a_limited_key_has_its_budget(env: Env) -> None:
    limited = create_key(env.settings, "limited", Decimal("2.5"))
    with OpenRouter(api_key=limited, server_url=env.api, retry_config=None) as c:
        key = c.api_keys.get_current_key_metadata().data
    assert key.limit == 2.5 and key.effective_budget is not None
    assert key.budgets[0].scope == "key_limit" and key.budgets[0].limit_usd == 2.5 and key.budgets[0].remaining_usd == 2.5


def test_key_management(env: Env) -> None:
    with OpenRouter(api_key=ADMIN, server_url=env.api, retry_config=None) as admin:
        made = admin.api_keys.create(name="from-the-python-sdk", limit=4)
        assert made.key.startswith("sk-tn-v1-") and made.data.limit == 4
        with OpenRouter(api_key=made.key, server_url=env.api, retry_config=None) as fresh:
            assert fresh.chat.send(model="test/echo", messages=USER, stream=False).choices[0].message.content
        assert any(k.hash == made.data.hash for k in admin.api_keys.list().data)
        assert admin.api_keys.get(hash=made.data.hash).data.name == "from-the-python-sdk"
        assert admin.api_keys.update(hash=made.data.hash, disabled=True).data.disabled is True
        assert admin.api_keys.delete(hash=made.data.hash).DELETED is True


def test_models_and_endpoints(client: OpenRouter) -> None:
    models = client.models.list().result.data
    glm = next(m for m in models if m.id == "z-ai/glm-4.5v")
    assert glm.context_length == 65536 and glm.pricing.prompt == "0.0000006" and glm.pricing.input_cache_read == "0.00000011"
    assert glm.top_provider.max_completion_tokens == 16384
    endpoints = client.endpoints.list(author="test", slug="echo").data.endpoints
    assert endpoints[0].provider_name == "Fake" and endpoints[0].pricing.completion == COMPLETION_PRICE


def test_the_strict_check_catches_a_dropped_cost_details() -> None:
    """What turnout used to send: the SDK parses it without complaint and loses cost_details."""
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.5,
             "cost_details": {"upstream_inference_cost": None}}
    assert isinstance(unmarshal(usage, components.ChatUsage).cost_details, Unset)
    with pytest.raises(AssertionError, match="cost_details"):
        strictly(usage, components.ChatUsage, "old usage")
