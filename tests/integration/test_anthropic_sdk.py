"""The official `anthropic` SDK against turnout's `/messages` over a real socket, through to the
fake OpenAI-dialect upstream: create and stream, system, tools, thinking, images, errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import anthropic
import httpx
import pytest

from tests.conformance.conftest import DIALECTS, Fakes, conformance_config
from tests.conftest import COMPLETION_PRICE, PROMPT_PRICE, Gateway, Upstream, create_key, gateway_config
from tests.fakes import anthropic_upstream, gemini_upstream, zai_upstream
from tests.fakes.openai_embeddings_upstream import EmbeddingsState, dialect_models
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serve(create_embeddings_upstream(EmbeddingsState())) as embeddings_url:
        config = gateway_config(upstream.url)
        providers, models = dialect_models(upstream.url, embeddings_url)
        settings = load_settings(
            None, env={}, data_dir=tmp_path_factory.mktemp("anthropic-dialect"), keepalive_interval=0.5,
            read_timeout=2.0, providers={**config["providers"], **providers}, models={**config["models"], **models},
        )
        key = create_key(settings, "anthropic-sdk")
        with serve(create_app(settings)) as url:
            yield Gateway(url, key, settings, upstream)


@pytest.fixture
def client(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{gw.url}/api", api_key=gw.key, max_retries=0, timeout=20)


def generation(gw: Gateway, gen_id: str) -> dict:
    """The generation record (written by the accounting queue, so polled briefly)."""
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(f"{gw.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gw.key}"})
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r.json()["data"]
        time.sleep(0.05)


def sse_events(gw: Gateway, body: dict) -> list[tuple[str, dict]]:
    """The raw (event, data) pairs of a streamed /messages answer."""
    headers = {"x-api-key": gw.key, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gw.api}/messages", json={**body, "stream": True}, headers=headers, timeout=20) as r:
        assert r.status_code == 200
        text = r.read().decode()
    out = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_create_plain_message(client: anthropic.Anthropic, gw: Gateway) -> None:
    m = client.messages.create(model="test/echo", max_tokens=100, messages=[{"role": "user", "content": "hello there"}])
    assert m.type == "message" and m.role == "assistant"
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == "echo: hello there"
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert m.model == "test/echo"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens == 3
    assert m.usage.cache_read_input_tokens == 0
    rec = generation(gw, m.id)
    assert rec["dialect_in"] == "anthropic" and rec["dialect_out"] == "openai"
    cost = m.usage.input_tokens * Decimal(PROMPT_PRICE) + m.usage.output_tokens * Decimal(COMPLETION_PRICE)
    assert Decimal(str(rec["total_cost"])) == cost
    assert Decimal(str(m.usage.model_extra["cost"])) == cost


def test_parameters_reach_the_upstream_translated(client: anthropic.Anthropic, gw: Gateway) -> None:
    client.messages.create(
        model="test/echo",
        max_tokens=50,
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": " Be kind."}],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ],
        stop_sequences=["END"],
        metadata={"user_id": "user-42"},
        extra_body={"temperature": 0.3, "top_p": 0.9, "top_k": 20},  # this SDK release dropped the kwargs
    )
    body = gw.upstream.state.requests[-1]["body"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief. Be kind."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    assert body["max_tokens"] == 50 and body["stop"] == ["END"] and body["user"] == "user-42"
    assert body["temperature"] == 0.3 and body["top_p"] == 0.9 and body["top_k"] == 20


def test_x_api_key_and_bearer_both_authenticate(gw: Gateway) -> None:
    body = {"model": "test/echo", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({"x-api-key": gw.key}, {"authorization": f"Bearer {gw.key}"}):
        r = httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["content"][0]["text"] == "echo: hi"


def test_tool_use_round_trip(client: anthropic.Anthropic, gw: Gateway) -> None:
    m = client.messages.create(
        model="test/tools", max_tokens=100, tools=[WEATHER_TOOL], tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert m.stop_reason == "tool_use"
    (block,) = [b for b in m.content if b.type == "tool_use"]
    assert block.id == "call_abc123" and block.name == "get_weather" and block.input == {"city": "Paris"}
    sent = gw.upstream.state.requests[-1]["body"]
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]

    client.messages.create(
        model="test/echo", max_tokens=100, tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_abc123", "content": "18C and sunny"},
                {"type": "text", "text": "thanks"},
            ]},
        ],
    )
    sent = gw.upstream.state.requests[-1]["body"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assistant, tool, user = sent["messages"][1:]
    assert assistant["tool_calls"][0]["id"] == "call_abc123"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert tool == {"role": "tool", "content": "18C and sunny", "tool_call_id": "call_abc123"}
    assert user == {"role": "user", "content": "thanks"}


def test_thinking_comes_back_as_thinking_blocks(client: anthropic.Anthropic) -> None:
    m = client.messages.create(
        model="test/reasoning", max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "2+2?"}],
    )
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "2 plus 2 is 4."
    assert m.content[1].text == "The answer is 4."


def test_thinking_blocks_sent_back_reach_the_upstream(client: anthropic.Anthropic, gw: Gateway) -> None:
    client.messages.create(
        model="test/echo", max_tokens=100,
        messages=[
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "a"},
            ]},
            {"role": "user", "content": "next"},
        ],
    )
    assistant = gw.upstream.state.requests[-1]["body"]["messages"][1]
    assert assistant["content"] == "a" and assistant["reasoning"] == "hmm"


def test_images_base64_and_url(client: anthropic.Anthropic, gw: Gateway) -> None:
    m = client.messages.create(
        model="test/vision", max_tokens=100,
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": "what is this"},
        ]}],
    )
    assert m.content[0].text == "echo: what is this"
    parts = gw.upstream.state.requests[-1]["body"]["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert parts[2] == {"type": "text", "text": "what is this"}


def test_stream_text(client: anthropic.Anthropic, gw: Gateway) -> None:
    with client.messages.stream(model="test/echo", max_tokens=100, messages=[{"role": "user", "content": "one two three"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "echo: one two three"
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens == 4
    rec = generation(gw, final.id)
    assert rec["dialect_in"] == "anthropic" and rec["streamed"] is True


def test_stream_event_sequence(gw: Gateway) -> None:
    events = sse_events(gw, {"model": "test/echo", "max_tokens": 50, "messages": [{"role": "user", "content": "a b"}]})
    names = [e for e, _ in events]
    assert names[:4] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert all(data["type"] == name for name, data in events)
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 3 and delta["usage"]["input_tokens"] > 0


def test_stream_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="test/tools", max_tokens=100, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Paris?"}]
    ) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert "input_json" in kinds
    (block,) = final.content
    assert block.type == "tool_use" and block.id == "call_abc123" and block.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_stream_thinking(client: anthropic.Anthropic, gw: Gateway) -> None:
    with client.messages.stream(
        model="test/reasoning", max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "2+2?"}],
    ) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "2 plus 2 is 4. "
    assert final.content[1].text == "The answer is 4."
    events = sse_events(gw, {"model": "test/reasoning", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}]})
    deltas = [d["delta"]["type"] for e, d in events if e == "content_block_delta"]
    assert deltas[0] == "thinking_delta" and deltas[-1] == "text_delta"


def test_errors_use_anthropics_envelope(client: anthropic.Anthropic, gw: Gateway) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="test/echo", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert bad.value.body == {"type": "error", "error": {"type": "invalid_request_error", "message": bad.value.body["error"]["message"]}}
    assert "max_tokens" in bad.value.body["error"]["message"]

    with pytest.raises(anthropic.AuthenticationError) as auth:
        anthropic.Anthropic(base_url=f"{gw.url}/api", api_key="sk-wrong", max_retries=0).messages.create(
            model="test/echo", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert auth.value.body["error"]["type"] == "authentication_error"

    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="nobody/nothing", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["error"]["type"] == "not_found_error"

    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="test/error-429", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert limited.value.body["error"]["type"] == "rate_limit_error"

    with pytest.raises(anthropic.InternalServerError) as overloaded:
        client.messages.create(model="test/error-503", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.body["error"]["type"] in ("overloaded_error", "api_error")

    r = httpx.post(f"{gw.api}/messages", content=b"{not json", headers={"x-api-key": gw.key})
    assert r.status_code == 400 and r.json()["type"] == "error"


def test_bad_blocks_name_the_parameter(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(
            model="test/vision", max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}]}],
        )
    assert "messages[0].content[0].source.media_type" in bad.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client.messages.create(model="test/echo", max_tokens=5, tools=[{"type": "code_execution_20250522", "name": "code_execution"}],
                               messages=[{"role": "user", "content": "x"}])
    assert "tools[0].type" in server_tool.value.body["error"]["message"]
    # web search is run by turnout for any model (docs/plugins.md): with no engine configured, a clear 400
    with pytest.raises(anthropic.BadRequestError) as search:
        client.messages.create(model="test/echo", max_tokens=5, tools=[{"type": "web_search_20250305", "name": "web_search"}],
                               messages=[{"role": "user", "content": "x"}])
    assert "web_search.engines" in search.value.body["error"]["message"]


def test_cut_stream_ends_with_an_error_event(client: anthropic.Anthropic, gw: Gateway) -> None:
    events = sse_events(gw, {"model": "test/cut", "max_tokens": 50, "messages": [{"role": "user", "content": "a b c d"}]})
    name, data = events[-1]
    assert name == "error" and data["type"] == "error" and data["error"]["type"] in ("api_error", "overloaded_error")
    assert "message_stop" not in [e for e, _ in events]
    with pytest.raises(anthropic.APIStatusError), client.messages.stream(
        model="test/cut", max_tokens=50, messages=[{"role": "user", "content": "a b c d"}]
    ) as s:
        for _ in s:
            pass


def test_output_config_and_omitted_thinking(client: anthropic.Anthropic, gw: Gateway) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    m = client.messages.create(
        model="test/reasoning", max_tokens=4096, thinking={"type": "adaptive", "display": "omitted"},
        output_config={"effort": "high", "format": {"type": "json_schema", "schema": schema}},
        messages=[{"role": "user", "content": "2+2?"}],
    )
    assert [b.type for b in m.content] == ["text"]  # thinking omitted from the answer
    sent = gw.upstream.state.requests[-1]["body"]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert sent["reasoning_effort"] == "high"
    assert generation(gw, m.id)["native_tokens_reasoning"] > 0  # hidden, still counted


# --- The Anthropic SDK through every outbound dialect (GLM on Z.ai, Anthropic, Gemini, OpenAI) -------------

@pytest.fixture(scope="module")
def cross(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway in front of the four conformance fakes; models are `conf-<dialect>/<scenario>`."""
    zs, ans, gs = zai_upstream.ZaiState(), anthropic_upstream.AnthropicState(), gemini_upstream.GeminiState()
    with (
        serve(zai_upstream.create_app(zs)) as zurl,
        serve(anthropic_upstream.create_app(ans)) as aurl,
        serve(gemini_upstream.create_app(gs)) as gurl,
    ):
        fakes = Fakes(upstream, (zurl, zs), (aurl, ans), (gurl, gs))
        config = conformance_config(fakes)
        settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("anthropic-cross"), keepalive_interval=0.5,
                                 read_timeout=2.0, providers=config["providers"], models=config["models"])
        key = create_key(settings, "anthropic-cross")
        with serve(create_app(settings)) as url:
            gw = Gateway(url, key, settings, upstream)
            gw.fakes = fakes  # type: ignore[attr-defined]
            yield gw


@pytest.mark.parametrize("dialect", DIALECTS)
def test_anthropic_sdk_through_each_dialect(cross: Gateway, dialect: str) -> None:
    client = anthropic.Anthropic(base_url=f"{cross.url}/api", api_key=cross.key, max_retries=0, timeout=20)
    m = client.messages.create(model=f"conf-{dialect}/echo", max_tokens=200, system="Be brief.",
                               messages=[{"role": "user", "content": "hello there"}])
    assert m.content[-1].type == "text" and m.content[-1].text == "echo: hello there"
    assert m.stop_reason == "end_turn" and m.usage.output_tokens > 0
    rec = generation(cross, m.id)
    assert rec["dialect_in"] == "anthropic" and rec["dialect_out"] == dialect
    assert Decimal(str(rec["total_cost"])) == Decimal(str(m.usage.model_extra["cost"])) > 0

    with client.messages.stream(model=f"conf-{dialect}/echo", max_tokens=200,
                                messages=[{"role": "user", "content": "one two"}]) as s:
        assert "".join(s.text_stream) == "echo: one two"
        assert s.get_final_message().stop_reason == "end_turn"

    tools = client.messages.create(model=f"conf-{dialect}/tools", max_tokens=2000, tools=[WEATHER_TOOL],
                                   messages=[{"role": "user", "content": "Weather in Paris?"}])
    (call,) = [b for b in tools.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input["city"] == "Paris" and call.id
    assert tools.stop_reason == "tool_use"
    with client.messages.stream(model=f"conf-{dialect}/tools", max_tokens=2000, tools=[WEATHER_TOOL],
                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as s:
        final = s.get_final_message()
    (streamed,) = [b for b in final.content if b.type == "tool_use"]
    assert streamed.input["city"] == "Paris" and final.stop_reason == "tool_use"


def test_thinking_signatures_round_trip_to_an_anthropic_upstream(cross: Gateway) -> None:
    client = anthropic.Anthropic(base_url=f"{cross.url}/api", api_key=cross.key, max_retries=0, timeout=20)
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    m = client.messages.create(model="conf-anthropic/tools", max_tokens=4000, tools=[WEATHER_TOOL],
                               thinking={"type": "enabled", "budget_tokens": 2000}, messages=ask)
    assert m.content[0].type == "thinking"
    assert m.content[0].thinking == anthropic_upstream.THINKING and m.content[0].signature == anthropic_upstream.SIGNATURE
    with client.messages.stream(model="conf-anthropic/tools", max_tokens=4000, tools=[WEATHER_TOOL],
                                thinking={"type": "enabled", "budget_tokens": 2000}, messages=ask) as s:
        streamed = s.get_final_message()
    assert streamed.content[0].type == "thinking" and streamed.content[0].signature == anthropic_upstream.SIGNATURE
    call = next(b for b in m.content if b.type == "tool_use")
    client.messages.create(
        model="conf-anthropic/echo", max_tokens=4000, tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 2000},
        messages=[*ask, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21C"}]}],
    )
    sent = cross.fakes.anthropic[1].requests[-1]["body"]  # type: ignore[attr-defined]
    blocks = sent["messages"][1]["content"]
    assert blocks[0] == {"type": "thinking", "thinking": anthropic_upstream.THINKING, "signature": anthropic_upstream.SIGNATURE}
    assert any(b.get("type") == "tool_use" and b["id"] == call.id for b in blocks)


def test_count_tokens(client: anthropic.Anthropic, gw: Gateway) -> None:
    short = client.messages.count_tokens(model="test/echo", messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(model="test/echo", system="x" * 400, tools=[WEATHER_TOOL],
                                        messages=[{"role": "user", "content": "hi " * 100}])
    assert 0 < short.input_tokens < long.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="nobody/nothing", messages=[{"role": "user", "content": "x"}])


def test_a_gemini_thought_signature_survives_an_anthropic_client(cross: Gateway) -> None:
    """Gemini's signature belongs to one tool call; it rides in a redacted_thinking block and comes back whole."""
    client = anthropic.Anthropic(base_url=f"{cross.url}/api", api_key=cross.key, max_retries=0, timeout=20)
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    for stream in (False, True):
        if stream:
            with client.messages.stream(model="conf-gemini/tools", max_tokens=2000, tools=[WEATHER_TOOL], messages=ask) as s:
                m = s.get_final_message()
        else:
            m = client.messages.create(model="conf-gemini/tools", max_tokens=2000, tools=[WEATHER_TOOL], messages=ask)
        redacted = [b for b in m.content if b.type == "redacted_thinking"]
        assert redacted and redacted[0].data.startswith("turnout.v1.")
        call = next(b for b in m.content if b.type == "tool_use")
        client.messages.create(
            model="conf-gemini/echo", max_tokens=2000, tools=[WEATHER_TOOL],
            messages=[*ask, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21C"}]}],
        )
        model_turn = cross.fakes.gemini[1].requests[-1]["body"]["contents"][1]  # type: ignore[attr-defined]
        (fc,) = [p for p in model_turn["parts"] if "functionCall" in p]
        assert fc["thoughtSignature"] == gemini_upstream.SIGNATURE


@pytest.mark.parametrize("dialect", DIALECTS)
def test_upstream_failures_in_anthropics_envelope_for_each_dialect(cross: Gateway, dialect: str) -> None:
    client = anthropic.Anthropic(base_url=f"{cross.url}/api", api_key=cross.key, max_retries=0, timeout=20)
    ask = [{"role": "user", "content": "one two three four five six"}]
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model=f"conf-{dialect}/error-429", max_tokens=100, messages=ask)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        client.messages.create(model=f"conf-{dialect}/overloaded", max_tokens=100, messages=ask)
    assert overloaded.value.body["type"] == "error"
    assert overloaded.value.body["error"]["type"] in ("overloaded_error", "api_error")
    events = sse_events(cross, {"model": f"conf-{dialect}/cut", "max_tokens": 100, "messages": ask})
    assert events[0][0] == "message_start" and events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] in ("api_error", "overloaded_error")
    rec = generation(cross, events[0][1]["message"]["id"])
    assert rec["dialect_in"] == "anthropic" and rec["status"] == "error"
