"""The conformance matrix: every upstream dialect x every scenario, through the live gateway.

Each test sends an OpenAI-dialect request to turnout, which translates it for the dialect's fake
upstream; the test checks both what reached the upstream (in that provider's native form) and the
normalized answer the client got back. A scenario a dialect cannot do is a skip with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from tests.conformance.conftest import DIALECTS, ConformanceGateway, price

USER = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                       "required": ["city"]},
    },
}
# What each fake's tool call carries: id, and arguments as JSON.
TOOL_IDS = {"openai": "call_abc123", "zai": "call_-8fd2a1b3c4", "anthropic": "toolu_01A09q90qw90lq917835lq9",
            "gemini": "call_gemini_0"}
TOOL_ARGS = {"openai": {"city": "Paris"}, "zai": {"city": "Paris", "unit": "celsius"},
             "anthropic": {"city": "Paris", "unit": "celsius"}, "gemini": {"city": "Paris", "unit": "celsius"}}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
          "required": ["city", "temperature"], "additionalProperties": False}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PHOTO = "https://images.example/cat.jpg"


def model(dialect: str, scenario: str) -> str:
    return f"conf-{dialect}/{scenario}"


def cost_of(usage: dict[str, Any], dialect: str) -> Decimal:
    """The cost the dialect's prices give this usage (cache reads and writes at their own prices)."""
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    writes = usage["prompt_tokens_details"]["cache_write_tokens"]
    prices = {"input_cache_write": price(dialect, "prompt")}
    if dialect == "anthropic":
        prices["input_cache_write"] = price(dialect, "input_cache_write")
    return (
        (usage["prompt_tokens"] - cached - writes) * price(dialect, "prompt")
        + cached * price(dialect, "input_cache_read")
        + writes * prices["input_cache_write"]
        + usage["completion_tokens"] * price(dialect, "completion")
    )


def assemble_tool_calls(chunks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for c in chunks:
        for choice in c.get("choices") or ():
            for tc in (choice.get("delta") or {}).get("tool_calls") or ():
                call = calls.setdefault(tc["index"], {"ids": [], "name": None, "arguments": ""})
                if tc.get("id"):
                    call["ids"].append(tc["id"])
                fn = tc.get("function") or {}
                if fn.get("name"):
                    call["name"] = fn["name"]
                call["arguments"] += fn.get("arguments") or ""
    return calls


def finishes(chunks: list[dict[str, Any]]) -> list[str]:
    return [ch["finish_reason"] for c in chunks for ch in c.get("choices") or () if ch.get("finish_reason")]


def text_of(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join((ch.get("delta") or {}).get(field) or "" for c in chunks for ch in c.get("choices") or ())


# --- what reached each upstream -------------------------------------------------------------------

def check_plain_request(dialect: str, sent: dict[str, Any]) -> None:
    body, headers = sent["body"], sent["headers"]
    if dialect == "openai":
        assert headers["authorization"] == "Bearer sk-upstream" and body["messages"][-1]["content"] == "hello there"
    elif dialect == "zai":
        assert sent["path"] == "/api/paas/v4/chat/completions"
        assert headers["authorization"] == "Bearer zai-upstream-key" and body["model"] == "echo"
        assert body["messages"] == [{"role": "user", "content": "hello there"}]
    elif dialect == "anthropic":
        assert sent["path"] == "/v1/messages" and headers["anthropic-version"] == ANTHROPIC_API_VERSION  # the SDK's
        assert headers["x-api-key"] and "authorization" not in headers
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]
        assert body["max_tokens"] > 0
    else:
        assert sent["path"] == "/v1beta/models/echo:generateContent"
        assert headers["x-goog-api-key"] and "authorization" not in headers
        assert body["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]


def check_tools_request(dialect: str, body: dict[str, Any]) -> None:
    if dialect in ("openai", "zai"):
        assert body["tools"][0]["function"]["name"] == "get_weather"
        assert body["tools"][0]["function"]["parameters"]["required"] == ["city"]
    elif dialect == "anthropic":
        assert body["tools"] == [{"name": "get_weather", "description": "Current weather for a city",
                                  "input_schema": WEATHER_TOOL["function"]["parameters"]}]
        assert body["tool_choice"] == {"type": "auto"}
    else:
        decl = body["tools"][0]["functionDeclarations"][0]  # JSON Schema as the caller wrote it
        assert decl["name"] == "get_weather" and decl["parametersJsonSchema"] == WEATHER_TOOL["function"]["parameters"]
        assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


REASONING_ON: dict[str, Callable[[dict[str, Any]], None]] = {
    "openai": lambda b: None,  # the OpenAI fake reasons always; `reasoning_effort` is checked below
    "zai": lambda b: b["thinking"] == {"type": "enabled"} or pytest.fail(str(b.get("thinking"))),
    "anthropic": lambda b: b["thinking"] == {"type": "enabled", "budget_tokens": 2000} or pytest.fail(str(b)),
    "gemini": lambda b: b["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2000, "includeThoughts": True}
    or pytest.fail(str(b["generationConfig"])),
}


def check_reasoning_off(dialect: str, body: dict[str, Any]) -> None:
    if dialect == "openai":
        assert body["reasoning_effort"] == "none"
    elif dialect == "zai":
        assert body["thinking"] == {"type": "disabled"}
    elif dialect == "anthropic":
        assert body["thinking"] == {"type": "disabled"}  # explicit: on the newest models thinking is on by default
    else:
        assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}


def check_structured(dialect: str, body: dict[str, Any]) -> None:
    if dialect == "openai":
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
    elif dialect == "zai":
        assert body["response_format"] == {"type": "json_object"}  # Z.ai has no json_schema mode
    elif dialect == "anthropic":
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    else:
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == SCHEMA  # JSON Schema, additionalProperties kept


def check_images(dialect: str, body: dict[str, Any]) -> None:
    if dialect == "openai":
        parts = body["messages"][0]["content"]
        assert parts[1] == {"type": "image_url", "image_url": {"url": PHOTO}}
        assert parts[2]["image_url"]["url"] == PNG
    elif dialect == "zai":
        parts = body["messages"][0]["content"]
        assert parts[1] == {"type": "image_url", "image_url": {"url": PHOTO}}
        assert parts[2] == {"type": "image_url", "image_url": {"url": PNG.partition(",")[2]}}
    elif dialect == "anthropic":
        blocks = body["messages"][0]["content"]
        assert blocks[1] == {"type": "image", "source": {"type": "url", "url": PHOTO}}
        assert blocks[2] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG.partition(",")[2]}}
    else:
        parts = body["contents"][0]["parts"]
        assert parts[1] == {"fileData": {"mimeType": "image/jpeg", "fileUri": PHOTO}}
        assert parts[2] == {"inlineData": {"mimeType": "image/png", "data": PNG.partition(",")[2]}}


# --- the matrix -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", DIALECTS)
def test_plain(conf: ConformanceGateway, dialect: str) -> None:
    r = conf.post({"model": model(dialect, "echo"), "messages": USER})
    assert r.status_code == 200, r.text
    data = r.json()
    choice = data["choices"][0]
    assert choice["message"]["content"] == "echo: hello there"
    assert choice["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert Decimal(str(usage["cost"])) == cost_of(usage, dialect)
    check_plain_request(dialect, conf.fakes.last(dialect))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_stream(conf: ConformanceGateway, dialect: str) -> None:
    status, chunks, done = conf.stream({"model": model(dialect, "echo"), "messages": [{"role": "user", "content": "one two three"}]})
    assert status == 200 and done
    assert text_of(chunks) == "echo: one two three"
    assert finishes(chunks) == ["stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert Decimal(str(chunks[-1]["usage"]["cost"])) == cost_of(chunks[-1]["usage"], dialect)
    sent = conf.fakes.last(dialect)
    if dialect == "gemini":
        assert sent["path"].endswith(":streamGenerateContent") and sent["query"] == "alt=sse"
    else:
        assert sent["body"]["stream"] is True


@pytest.mark.parametrize("dialect", DIALECTS)
def test_tools(conf: ConformanceGateway, dialect: str) -> None:
    r = conf.post({"model": model(dialect, "tools"), "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "auto"})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == TOOL_IDS[dialect] and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == TOOL_ARGS[dialect]
    check_tools_request(dialect, conf.fakes.last(dialect)["body"])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_streamed_tools(conf: ConformanceGateway, dialect: str) -> None:
    status, chunks, done = conf.stream({"model": model(dialect, "tools"), "messages": USER, "tools": [WEATHER_TOOL]})
    assert status == 200 and done
    calls = assemble_tool_calls(chunks)
    assert list(calls) == [0]  # one call, index 0 throughout
    assert calls[0]["ids"] == [TOOL_IDS[dialect]]  # the id comes once, on the first delta
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == TOOL_ARGS[dialect]
    assert finishes(chunks) == ["tool_calls"]
    if dialect == "zai":
        assert conf.fakes.last("zai")["body"]["tool_stream"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_reasoning_on(conf: ConformanceGateway, dialect: str, stream: bool) -> None:
    body = {"model": model(dialect, "reasoning"), "messages": USER, "max_tokens": 4000, "reasoning": {"effort": "medium"}}
    if stream:
        status, chunks, _ = conf.stream(body)
        assert status == 200
        reasoning = text_of(chunks, "reasoning")
        details = [d for c in chunks for ch in c.get("choices") or () for d in (ch.get("delta") or {}).get("reasoning_details") or ()]
        usage = chunks[-1]["usage"]
    else:
        r = conf.post(body)
        assert r.status_code == 200, r.text
        message = r.json()["choices"][0]["message"]
        reasoning, details, usage = message["reasoning"], message.get("reasoning_details") or [], r.json()["usage"]
    assert reasoning and reasoning.strip()
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] <= usage["completion_tokens"]
    if dialect == "anthropic":
        assert any(d.get("signature") for d in details) and all(d["format"] == "anthropic-claude-v1" for d in details)
    if dialect in ("zai", "gemini"):
        assert details and details[0]["type"] == "reasoning.text"
    sent = conf.fakes.last(dialect)["body"]
    REASONING_ON[dialect](sent)
    if dialect == "openai":
        assert sent["reasoning_effort"] == "medium"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reasoning_off(conf: ConformanceGateway, dialect: str) -> None:
    scenario = "echo" if dialect == "openai" else "reasoning"  # the OpenAI fake's reasoning model always reasons
    r = conf.post({"model": model(dialect, scenario), "messages": USER, "reasoning": {"effort": "none"}})
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert message["reasoning"] is None and not message.get("reasoning_details")
    assert r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    check_reasoning_off(dialect, conf.fakes.last(dialect)["body"])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reasoning_excluded_is_hidden_but_billed(conf: ConformanceGateway, dialect: str) -> None:
    r = conf.post({"model": model(dialect, "reasoning"), "messages": USER, "max_tokens": 4000,
                   "reasoning": {"effort": "medium", "exclude": True}})
    assert r.status_code == 200, r.text
    assert "reasoning" not in r.json()["choices"][0]["message"]
    if dialect == "gemini":  # Gemini still thinks but is asked not to return the thoughts
        assert conf.fakes.last(dialect)["body"]["generationConfig"]["thinkingConfig"]["includeThoughts"] is False
        assert r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 30
    else:
        assert r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_structured_output(conf: ConformanceGateway, dialect: str) -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
    r = conf.post({"model": model(dialect, "structured"), "messages": USER, "response_format": rf})
    assert r.status_code == 200, r.text
    content = r.json()["choices"][0]["message"]["content"]
    if dialect != "openai":  # the OpenAI fake echoes; the others answer JSON
        assert json.loads(content) == {"city": "Paris", "temperature": 21}
    check_structured(dialect, conf.fakes.last(dialect)["body"])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_image_input(conf: ConformanceGateway, dialect: str) -> None:
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": PHOTO}},
               {"type": "image_url", "image_url": {"url": PNG}}]
    r = conf.post({"model": model(dialect, "echo"), "messages": [{"role": "user", "content": content}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "echo: what is this"
    check_images(dialect, conf.fakes.last(dialect)["body"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_usage_with_cache(conf: ConformanceGateway, dialect: str, stream: bool) -> None:
    body = {"model": model(dialect, "cached"), "messages": USER}
    if stream:
        status, chunks, _ = conf.stream(body)
        assert status == 200
        usage = chunks[-1]["usage"]
    else:
        r = conf.post(body)
        assert r.status_code == 200, r.text
        usage = r.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] > 0
    assert usage["prompt_tokens"] > usage["prompt_tokens_details"]["cached_tokens"]  # prompt includes cached
    if dialect == "anthropic":
        assert usage["prompt_tokens_details"]["cache_write_tokens"] == 500
    assert Decimal(str(usage["cost"])) == cost_of(usage, dialect)


ERROR_CASES = [
    ("error-400", 400, "provider_invalid_request"),
    ("error-401", 502, "provider_auth_failed"),
    ("error-429", 429, "provider_rate_limited"),
    ("error-500", 502, "provider_server_error"),
    ("overloaded", 503, "provider_overloaded"),
    ("html-500", 502, "provider_server_error"),
    ("empty-500", 502, "provider_server_error"),
]


@pytest.mark.parametrize(("scenario", "status", "kind"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_error_bodies(conf: ConformanceGateway, dialect: str, scenario: str, status: int, kind: str) -> None:
    for stream in (False, True):
        body = {"model": model(dialect, scenario + ("-stream" if stream else "")), "messages": USER}
        if stream:
            got, payload, _ = conf.stream(body)
            err = payload[0]["error"]
        else:
            r = conf.post(body)
            got, err = r.status_code, r.json()["error"]
            if scenario == "error-429":
                assert r.headers["retry-after"] == "7"
        assert got == status, err
        assert err["code"] == status and err["message"]
        assert err["metadata"]["error_type"] == kind
        assert err["metadata"]["provider_name"] == f"Conf {'Z.AI' if dialect == 'zai' else dialect.title().replace('Openai', 'OpenAI')}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_cut_stream(conf: ConformanceGateway, dialect: str) -> None:
    status, chunks, done = conf.stream({"model": model(dialect, "cut"), "messages": [{"role": "user", "content": "one two three"}]})
    assert status == 200 and not done
    assert text_of(chunks).startswith("echo: one")
    assert "error" in chunks[-1] and finishes(chunks) == ["error"]
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert len(usage_chunks) == 1 and usage_chunks[0]["usage"]["completion_tokens"] > 0
    record = conf.generation(chunks[0]["id"])
    assert record["status"] == "error" and record["tokens_completion"] > 0


MID_STREAM_ERROR = [
    pytest.param("openai", marks=pytest.mark.skip(
        reason="the shared OpenAI fake has no in-band error scenario (cut covers the failure path)")),
    pytest.param("zai", marks=pytest.mark.skip(
        reason="Z.ai documents no in-band error event (a failure cuts the stream: see cut); the decoder's handling "
               "of an {error} frame is unit-tested in tests/unit/providers/test_zai_decoder.py")),
    "anthropic",
    pytest.param("gemini", marks=pytest.mark.skip(
        reason="Gemini documents no in-band error event (a failure cuts the stream: see cut); the decoder's handling "
               "of an {error} chunk is unit-tested in tests/unit/providers/test_gemini_decoder.py")),
]


@pytest.mark.parametrize("dialect", MID_STREAM_ERROR)
def test_error_event_mid_stream(conf: ConformanceGateway, dialect: str) -> None:
    status, chunks, done = conf.stream({"model": model(dialect, "stream-error"), "messages": [{"role": "user", "content": "one two"}]})
    assert status == 200 and not done
    assert text_of(chunks) == "echo: one "
    assert chunks[-1]["error"]["metadata"]["error_type"] == "provider_overloaded"
    assert finishes(chunks) == ["error"]
