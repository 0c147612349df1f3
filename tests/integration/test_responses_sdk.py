"""The official `openai` SDK's Responses API against turnout over a real socket, through to the fake
OpenAI-dialect upstream: create and stream, tools, reasoning, structured output, stored responses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import openai
import pytest

from tests.conformance.conftest import DIALECTS, Fakes, conformance_config
from tests.conftest import (
    CACHE_READ_PRICE,
    COMPLETION_PRICE,
    PROMPT_PRICE,
    Gateway,
    Upstream,
    create_key,
    gateway_config,
)
from tests.fakes import anthropic_upstream, gemini_upstream, zai_upstream
from tests.fakes.openai_embeddings_upstream import EmbeddingsState, dialect_models
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with serve(create_embeddings_upstream(EmbeddingsState())) as embeddings_url:
        config = gateway_config(upstream.url)
        providers, models = dialect_models(upstream.url, embeddings_url)
        settings = load_settings(
            None, env={}, data_dir=tmp_path_factory.mktemp("responses-dialect"), keepalive_interval=0.5,
            read_timeout=2.0, providers={**config["providers"], **providers}, models={**config["models"], **models},
        )
        key = create_key(settings, "responses-sdk")
        with serve(create_app(settings)) as url:
            yield Gateway(url, key, settings, upstream)


@pytest.fixture
def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.api, api_key=gw.key, max_retries=0, timeout=20)


def generation(gw: Gateway, gen_id: str) -> dict:
    """The generation record (written by the accounting queue, so polled briefly)."""
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(f"{gw.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gw.key}"})
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r.json()["data"]
        time.sleep(0.05)


def test_create_plain_response(client: openai.OpenAI, gw: Gateway) -> None:
    r = client.responses.create(model="test/echo", input="hello there")
    assert r.object == "response" and r.status == "completed"
    assert r.output_text == "echo: hello there"
    (item,) = r.output
    assert item.type == "message" and item.role == "assistant" and item.content[0].type == "output_text"
    u = r.usage
    assert u is not None and u.total_tokens == u.input_tokens + u.output_tokens
    assert u.input_tokens_details.cached_tokens == 0 and u.output_tokens_details.reasoning_tokens == 0
    cost = u.input_tokens * Decimal(PROMPT_PRICE) + u.output_tokens * Decimal(COMPLETION_PRICE)
    assert Decimal(str(u.model_extra["cost"])) == cost
    rec = generation(gw, r.id)
    assert rec["dialect_in"] == "responses" and rec["dialect_out"] == "openai"
    assert Decimal(str(rec["total_cost"])) == cost


def test_cached_tokens_are_reported_and_priced(client: openai.OpenAI) -> None:
    r = client.responses.create(model="test/cached", input="some long prompt here")
    u = r.usage
    assert u is not None and u.input_tokens_details.cached_tokens > 0
    cached = u.input_tokens_details.cached_tokens
    cost = (u.input_tokens - cached) * Decimal(PROMPT_PRICE) + cached * Decimal(CACHE_READ_PRICE)
    assert Decimal(str(u.model_extra["cost"])) == cost + u.output_tokens * Decimal(COMPLETION_PRICE)


def test_items_instructions_and_options_reach_the_upstream(client: openai.OpenAI, gw: Gateway) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    r = client.responses.create(
        model="test/echo",
        instructions="Be brief.",
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ],
        max_output_tokens=64,
        temperature=0.4,
        top_p=0.8,
        reasoning={"effort": "low"},
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}},
        store=False,
    )
    body = gw.upstream.state.requests[-1]["body"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.4 and body["top_p"] == 0.8
    assert body["reasoning_effort"] == "low"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    assert r.instructions == "Be brief." and r.max_output_tokens == 64 and r.store is False


def test_input_images(client: openai.OpenAI, gw: Gateway) -> None:
    r = client.responses.create(
        model="test/vision",
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "describe"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
        ]}],
    )
    assert r.output_text == "echo: describe"
    parts = gw.upstream.state.requests[-1]["body"]["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}


def test_function_calls_and_outputs(client: openai.OpenAI, gw: Gateway) -> None:
    r = client.responses.create(model="test/tools", input="Weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required")
    (call,) = r.output
    assert call.type == "function_call" and call.call_id == "call_abc123" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent = gw.upstream.state.requests[-1]["body"]
    assert sent["tools"][0] == {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
                                                                  "parameters": WEATHER_TOOL["parameters"]}}
    assert sent["tool_choice"] == "required"

    client.responses.create(
        model="test/echo",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "call_abc123", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_abc123", "output": "18C"},
        ],
    )
    sent = gw.upstream.state.requests[-1]["body"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assistant, tool = sent["messages"][1:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_abc123"
    assert tool == {"role": "tool", "content": "18C", "tool_call_id": "call_abc123"}


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI, gw: Gateway) -> None:
    first = client.responses.create(model="test/tools", instructions="Use tools.", input="Weather in Paris?", tools=[WEATHER_TOOL])
    second = client.responses.create(
        model="test/echo", previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_abc123", "output": "18C"}],
    )
    assert second.previous_response_id == first.id
    messages = gw.upstream.state.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]  # instructions are not carried over
    assert messages[1]["tool_calls"][0]["id"] == "call_abc123"
    third = client.responses.create(model="test/echo", previous_response_id=second.id, input="and tomorrow?")
    assert third.output_text == "echo: and tomorrow?"
    assert [m["role"] for m in gw.upstream.state.requests[-1]["body"]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]


def test_unknown_or_foreign_previous_response_is_404(client: openai.OpenAI, gw: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="test/echo", previous_response_id="resp_nope", input="x")
    assert missing.value.body["param"] == "previous_response_id"
    assert missing.value.body["code"] == 404  # OpenRouter's envelope: the status; OpenAI's string code in metadata
    assert missing.value.body["metadata"]["code"] == "previous_response_not_found"
    mine = client.responses.create(model="test/echo", input="secret")
    other_key = create_key(gw.settings, "other")
    deadline = time.monotonic() + 5  # the gateway's key cache picks new keys up within a second or so
    while httpx.get(f"{gw.api}/key", headers={"authorization": f"Bearer {other_key}"}).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    other = openai.OpenAI(base_url=gw.api, api_key=other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="test/echo", previous_response_id=mine.id, input="x")
    unstored = client.responses.create(model="test/echo", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="test/echo", previous_response_id=unstored.id, input="x")


def test_reasoning_output_item(client: openai.OpenAI) -> None:
    r = client.responses.create(model="test/reasoning", input="2+2?", reasoning={"effort": "medium"})
    kinds = [i.type for i in r.output]
    assert kinds == ["reasoning", "message"]
    assert r.output[0].content[0].text == "2 plus 2 is 4."
    assert r.output_text == "The answer is 4."
    assert r.usage.output_tokens_details.reasoning_tokens > 0
    summarized = client.responses.create(model="test/reasoning", input="2+2?", reasoning={"effort": "low", "summary": "auto"})
    assert summarized.output[0].summary[0].text == "2 plus 2 is 4."


def test_stream_text_events(client: openai.OpenAI, gw: Gateway) -> None:
    events = list(client.responses.create(model="test/echo", input="one two three", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: one two three"
    done = events[-1].response
    assert done.status == "completed" and done.output_text == text
    assert done.usage is not None and done.usage.output_tokens == 4
    rec = generation(gw, done.id)
    assert rec["dialect_in"] == "responses" and rec["streamed"] is True


def test_stream_helper_final_response(client: openai.OpenAI) -> None:
    with client.responses.stream(model="test/echo", input="a b") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "echo: a b" == final.output_text


def test_stream_function_call_arguments(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="test/tools", input="Paris?", tools=[WEATHER_TOOL], stream=True))
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    (done,) = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(deltas) > 1 and "".join(deltas) == done.arguments == '{"city": "Paris"}'
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.type == "function_call" and added.item.call_id == "call_abc123"
    final = events[-1].response
    assert final.output[0].arguments == '{"city": "Paris"}' and final.output[0].status == "completed"


def test_stream_reasoning_then_text(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="test/reasoning", input="2+2?", stream=True))
    kinds = [e.type for e in events]
    assert "response.reasoning_text.delta" in kinds and "response.output_text.delta" in kinds
    assert kinds.index("response.reasoning_text.done") < kinds.index("response.output_text.delta")
    assert [i.type for i in events[-1].response.output] == ["reasoning", "message"]


def test_stream_failure_is_response_failed(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="test/cut", input="a b c d", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message


def test_errors_use_openais_envelope(client: openai.OpenAI, gw: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="test/echo", input=[{"type": "web_search_call"}])
    assert bad.value.body["param"] == "input[0].type" and bad.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as tool:
        client.responses.create(model="test/echo", input="x", tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}])
    assert tool.value.body["param"] == "tools[0].type"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gw.api, api_key="sk-wrong", max_retries=0).responses.create(model="test/echo", input="x")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="test/error-429", input="x")


# --- The Responses API through every outbound dialect (an Anthropic upstream, GLM on Z.ai, Gemini, OpenAI) ----

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
        settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("responses-cross"), keepalive_interval=0.5,
                                 read_timeout=2.0, providers=config["providers"], models=config["models"])
        key = create_key(settings, "responses-cross")
        with serve(create_app(settings)) as url:
            gw = Gateway(url, key, settings, upstream)
            gw.fakes = fakes  # type: ignore[attr-defined]
            yield gw


@pytest.mark.parametrize("dialect", DIALECTS)
def test_responses_sdk_through_each_dialect(cross: Gateway, dialect: str) -> None:
    client = openai.OpenAI(base_url=cross.api, api_key=cross.key, max_retries=0, timeout=20)
    r = client.responses.create(model=f"conf-{dialect}/echo", instructions="Be brief.", input="hello there")
    assert r.status == "completed" and r.output_text == "echo: hello there"
    rec = generation(cross, r.id)
    assert rec["dialect_in"] == "responses" and rec["dialect_out"] == dialect
    assert r.usage is not None and Decimal(str(rec["total_cost"])) == Decimal(str(r.usage.model_extra["cost"])) > 0

    events = list(client.responses.create(model=f"conf-{dialect}/echo", input="one two", stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.output_text == "echo: one two"
    assert [e.sequence_number for e in events] == list(range(len(events)))

    tools = client.responses.create(model=f"conf-{dialect}/tools", input="Weather in Paris?", tools=[WEATHER_TOOL],
                                    max_output_tokens=2000)
    (call,) = [i for i in tools.output if i.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)["city"] == "Paris"
    follow = client.responses.create(model=f"conf-{dialect}/echo", previous_response_id=tools.id, tools=[WEATHER_TOOL],
                                     input=[{"type": "function_call_output", "call_id": call.call_id, "output": "21C"}])
    assert follow.status == "completed"
    streamed = list(client.responses.create(model=f"conf-{dialect}/tools", input="Weather in Paris?", tools=[WEATHER_TOOL],
                                            max_output_tokens=2000, stream=True))
    (done,) = [e for e in streamed if e.type == "response.function_call_arguments.done"]
    assert json.loads(done.arguments)["city"] == "Paris"


@pytest.mark.parametrize("stream", [False, True])
def test_signatures_round_trip_statelessly_through_encrypted_content(cross: Gateway, stream: bool) -> None:
    """store=false: the client sends the output items back; Anthropic's and Gemini's signatures must survive."""
    client = openai.OpenAI(base_url=cross.api, api_key=cross.key, max_retries=0, timeout=20)
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    for dialect in ("anthropic", "gemini"):
        kw = {"model": f"conf-{dialect}/tools", "input": ask, "tools": [WEATHER_TOOL], "max_output_tokens": 4000,
              "reasoning": {"effort": "high"}, "store": False}
        if stream:
            events = list(client.responses.create(**kw, stream=True))
            assert events[-1].type == "response.completed"
            first = events[-1].response
        else:
            first = client.responses.create(**kw)
        reasoning = [i for i in first.output if i.type == "reasoning"]
        assert reasoning and reasoning[0].encrypted_content.startswith("turnout.v1.")
        call = next(i for i in first.output if i.type == "function_call")
        client.responses.create(
            model=f"conf-{dialect}/echo", tools=[WEATHER_TOOL], max_output_tokens=4000, reasoning={"effort": "high"},
            store=False,
            input=[*ask, *[i.model_dump(exclude_none=True) for i in first.output],
                   {"type": "function_call_output", "call_id": call.call_id, "output": "21C"}],
        )
        sent = cross.fakes.last(dialect)["body"]  # type: ignore[attr-defined]
        if dialect == "anthropic":
            blocks = sent["messages"][1]["content"]
            assert blocks[0]["type"] == "thinking" and blocks[0]["signature"] == anthropic_upstream.SIGNATURE
        else:
            (fc,) = [p for p in sent["contents"][1]["parts"] if "functionCall" in p]
            assert fc["thoughtSignature"] == gemini_upstream.SIGNATURE


def test_retrieve_and_delete_a_stored_response(client: openai.OpenAI) -> None:
    created = client.responses.create(model="test/echo", input="keep me")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "echo: keep me" and fetched.usage == created.usage
    streamed = list(client.responses.create(model="test/echo", input="stream me", stream=True))[-1].response
    assert client.responses.retrieve(streamed.id).output_text == "echo: stream me"
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="test/echo", previous_response_id=created.id, input="x")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_upstream_failures_in_the_responses_shape_for_each_dialect(cross: Gateway, dialect: str) -> None:
    client = openai.OpenAI(base_url=cross.api, api_key=cross.key, max_retries=0, timeout=20)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model=f"conf-{dialect}/error-429", input="x")
    assert limited.value.body["type"] == "rate_limit_error"
    events = list(client.responses.create(model=f"conf-{dialect}/cut", input="one two three four five six", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None
    rec = generation(cross, failed.id)
    assert rec["dialect_in"] == "responses" and rec["status"] == "error"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_inbound_dialect_records_the_same_usage_and_cost(cross: Gateway, dialect: str) -> None:
    """One question, asked in each inbound dialect: the generation records agree on tokens and cost."""
    model, text = f"conf-{dialect}/echo", "what is two plus two"
    bodies = {
        "chat/completions": {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
        "messages": {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
        "responses": {"model": model, "max_output_tokens": 200, "input": text},
        "completions": {"model": model, "max_tokens": 200, "prompt": text},
    }
    records = {}
    for path, body in bodies.items():
        for stream in (False, True):
            with httpx.stream("POST", f"{cross.api}/{path}", json={**body, "stream": stream}, timeout=20,
                              headers={"authorization": f"Bearer {cross.key}"}) as r:
                r.read()
                assert r.status_code == 200, (path, r.text)
            records[(path, stream)] = generation(cross, r.headers["x-generation-id"])
    seen = {(rec["tokens_prompt"], rec["tokens_completion"], Decimal(str(rec["total_cost"]))) for rec in records.values()}
    assert len(seen) == 1, records
    assert next(iter(seen))[2] > 0
    assert {rec["dialect_in"] for rec in records.values()} == {"openai", "anthropic", "responses", "completions"}
    assert {rec["dialect_out"] for rec in records.values()} == {dialect}
