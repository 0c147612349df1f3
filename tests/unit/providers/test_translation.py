"""Request and response translation of the native dialects, without a network."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.providers.streams import TARGET
from turnout.core.catalog.catalog import build_catalog
from turnout.model.chat import ChatRequest, Message, Reasoning, ResponseFormat, TextPart, ToolCall
from turnout.model.errors import ErrorKind, FailureClass, GatewayError
from turnout.providers import anthropic, gemini, zai
from turnout.providers.anthropic.request import SUPPORTED_PARAMETERS as ANTHROPIC_PARAMS
from turnout.providers.anthropic.request import thinking_budget, to_anthropic_body
from turnout.providers.gemini.request import SUPPORTED_PARAMETERS as GEMINI_PARAMS
from turnout.providers.gemini.request import to_json_schema, to_thinking_config

USER = [Message("user", "hi")]


def test_every_builtin_endpoint_advertises_only_what_its_dialect_translates() -> None:
    translated = {"zai": zai.SUPPORTED_PARAMETERS, "anthropic": ANTHROPIC_PARAMS, "gemini": GEMINI_PARAMS}
    catalog = build_catalog(None, None, env={})
    checked = 0
    for model in catalog.models.values():
        for endpoint in model.endpoints:
            allowed = translated.get(endpoint.provider.dialect)
            if allowed is not None:
                checked += 1
                assert endpoint.supported_parameters <= allowed, (model.id, endpoint.supported_parameters - allowed)
    assert checked >= 5  # the z-ai endpoints


# --- Z.ai ----------------------------------------------------------------------------------------

def test_zai_request_id_user_id_and_excluded_reasoning() -> None:
    request = ChatRequest("m", USER, user="customer-77", generation_id="gen-1763800000-abc", reasoning=Reasoning(effort="high", exclude=True))
    body = zai.to_zai_body(request, TARGET)
    assert body["request_id"] == "gen-1763800000-abc" and body["user_id"] == "customer-77"
    assert body["thinking"] == {"type": "enabled"}  # excluded reasoning is still produced, and billed
    request.extra = {"request_id": "caller-chosen-id", "do_sample": True}
    body = zai.to_zai_body(request, TARGET)
    assert body["request_id"] == "caller-chosen-id" and body["do_sample"] is True


def test_zai_reasoning_details_go_back_as_reasoning_content() -> None:
    details = [{"type": "reasoning.text", "text": "step one. ", "format": "unknown", "index": 0},
               {"type": "reasoning.text", "text": "step two.", "format": "unknown", "index": 0}]
    assistant = Message("assistant", "ok", reasoning_details=details)
    body = zai.to_zai_body(ChatRequest("m", [*USER, assistant]), TARGET)
    assert body["messages"][1]["reasoning_content"] == "step one. step two."


def test_zai_json_schema_is_json_object_and_no_reasoning_leaves_thinking_to_the_model() -> None:
    body = zai.to_zai_body(ChatRequest("m", USER, response_format=ResponseFormat("json_schema", "x", {"type": "object"})), TARGET)
    assert body["response_format"] == {"type": "json_object"} and "thinking" not in body


def test_zai_error_codes_refine_the_status() -> None:
    adapter = zai.ZaiAdapter()
    balance = adapter.parse_error(429, {}, b'{"error":{"code":"1113","message":"Insufficient balance"}}', TARGET)
    assert balance.kind is ErrorKind.PROVIDER_AUTH_FAILED
    plain = adapter.parse_error(429, {"retry-after": "3"}, b'{"error":{"code":"1302","message":"busy"}}', TARGET)
    assert plain.kind is ErrorKind.PROVIDER_RATE_LIMITED and plain.retry_after == 3.0


def test_zai_rejects_audio() -> None:
    from turnout.model.chat import AudioPart

    with pytest.raises(GatewayError) as err:
        zai.to_zai_body(ChatRequest("m", [Message("user", [AudioPart("UklG", "wav")])]), TARGET)
    assert err.value.status == 400


# --- Anthropic -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("effort", "max_tokens", "budget"), [
    ("max", 200_000, 128_000), ("xhigh", 10_000, 9_500), ("high", 10_000, 8_000), ("medium", 10_000, 5_000),
    ("low", 10_000, 2_000), ("minimal", 10_000, 1_024), ("low", 1_000, 1_024),
])
def test_thinking_budget_rule(effort: str, max_tokens: int, budget: int) -> None:
    assert thinking_budget(Reasoning(effort=effort), max_tokens) == budget


def test_anthropic_turns_are_merged_and_tool_results_batched() -> None:
    messages = [
        Message("user", "a"), Message("user", [TextPart("b", {"type": "ephemeral"})]),
        Message("assistant", None, tool_calls=[ToolCall("t1", "f", '{"x":1}'), ToolCall("t2", "f", "")]),
        Message("tool", "r1", tool_call_id="t1"), Message("tool", "r2", tool_call_id="t2"), Message("user", "next"),
    ]
    body = to_anthropic_body(ChatRequest("m", messages), "claude")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][1] == {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}
    assert body["messages"][1]["content"][1] == {"type": "tool_use", "id": "t2", "name": "f", "input": {}}
    assert [b.get("tool_use_id") for b in body["messages"][2]["content"]] == ["t1", "t2", None]
    assert body["max_tokens"] == 4096


def test_anthropic_bad_tool_arguments_are_a_400() -> None:
    messages = [*USER, Message("assistant", None, tool_calls=[ToolCall("t1", "f", "{oops")])]
    with pytest.raises(GatewayError) as err:
        to_anthropic_body(ChatRequest("m", messages), "claude")
    assert err.value.param == "messages[1].tool_calls[0].function.arguments"


def test_anthropic_response_refusal_and_usage() -> None:
    raw = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "redacted_thinking", "data": "Ehx"}],
           "stop_reason": "refusal", "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 5}}
    result = anthropic.AnthropicAdapter().parse_response(orjson.dumps(raw), TARGET)
    assert result.finish_reason == "content_filter" and result.content == ""
    assert result.reasoning_details == [{"type": "reasoning.encrypted", "data": "Ehx", "format": "anthropic-claude-v1", "index": 0}]
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.cached_tokens) == (15, 5)


@pytest.mark.parametrize(("status", "body", "kind", "failure"), [
    (529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', ErrorKind.PROVIDER_OVERLOADED, FailureClass.RATE_LIMIT),
    (500, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', ErrorKind.PROVIDER_OVERLOADED, FailureClass.RATE_LIMIT),
    (401, b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}', ErrorKind.PROVIDER_AUTH_FAILED, FailureClass.CREDENTIAL),
    (502, b"<html>bad gateway</html>", ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT),
    (500, b"", ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT),
])
def test_anthropic_errors(status: int, body: bytes, kind: ErrorKind, failure: FailureClass) -> None:
    err = anthropic.AnthropicAdapter().parse_error(status, {}, body, TARGET)
    assert err.kind is kind and err.failure is failure and err.upstream_status == status


def test_anthropic_headers() -> None:
    from dataclasses import replace

    up = anthropic.AnthropicAdapter().build_request(ChatRequest("m", USER), replace(TARGET, api_key="sk-ant", options={"beta": "x-2025"}))
    assert up.url == "http://127.0.0.1:9/v1/messages"
    from anthropic._constants import ANTHROPIC_API_VERSION  # what the official SDK sends

    assert up.headers["x-api-key"] == "sk-ant" and up.headers["anthropic-version"] == ANTHROPIC_API_VERSION
    assert up.headers["anthropic-beta"] == "x-2025" and "authorization" not in up.headers


# --- Gemini --------------------------------------------------------------------------------------

def test_gemini_schema_keeps_its_meaning_in_the_json_schema_subset() -> None:
    schema = {"$schema": "x", "type": "object", "additionalProperties": False,
              "properties": {"a": {"type": ["string", "null"]}, "b": {"const": "k"}, "c": {"type": "array", "items": {"type": "integer", "examples": [1]}}}}
    assert to_json_schema(schema, "p") == {"type": "object", "additionalProperties": False, "properties": {
        "a": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "b": {"enum": ["k"]}, "c": {"type": "array", "items": {"type": "integer"}}}}


def test_gemini_thinking_config() -> None:
    assert to_thinking_config(Reasoning(enabled=False), None) == {"thinkingBudget": 0}
    assert to_thinking_config(Reasoning(enabled=True), None) == {"thinkingBudget": -1, "includeThoughts": True}
    assert to_thinking_config(Reasoning(max_tokens=5000, exclude=True), None) == {"thinkingBudget": 5000, "includeThoughts": False}
    assert to_thinking_config(Reasoning(effort="high"), None) == {"thinkingBudget": 6553, "includeThoughts": True}


def test_gemini_blocked_prompt_and_errors() -> None:
    adapter = gemini.GeminiAdapter()
    blocked = adapter.parse_response(b'{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}', TARGET)
    assert blocked.finish_reason == "content_filter" and blocked.native_finish_reason == "SAFETY"
    key = adapter.parse_error(400, {}, b'{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",'
                              b' "details": [{"reason": "API_KEY_INVALID"}]}}', TARGET)
    assert key.kind is ErrorKind.PROVIDER_AUTH_FAILED and key.failure is FailureClass.CREDENTIAL
    busy = adapter.parse_error(503, {}, b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}', TARGET)
    assert busy.kind is ErrorKind.PROVIDER_OVERLOADED


def test_gemini_urls() -> None:
    from dataclasses import replace

    target = replace(TARGET, upstream_model="models/gemini-2.5-flash", api_key="AIza")
    whole = gemini.GeminiAdapter().build_request(ChatRequest("m", USER), target)
    streamed = gemini.GeminiAdapter().build_request(ChatRequest("m", USER, stream=True), target)
    assert whole.url == "http://127.0.0.1:9/models/gemini-2.5-flash:generateContent"
    assert streamed.url == "http://127.0.0.1:9/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert whole.headers["x-goog-api-key"] == "AIza"


def test_anthropic_thinking_comes_back_from_raw_stream_deltas_too() -> None:
    fmt = "anthropic-claude-v1"
    deltas = [{"type": "reasoning.text", "text": "Let me ", "format": fmt, "index": 0},
              {"type": "reasoning.text", "text": "think.", "format": fmt, "index": 0},
              {"type": "reasoning.text", "text": "", "signature": "sig==", "format": fmt, "index": 0},
              {"type": "reasoning.text", "text": "unsigned", "format": "unknown", "index": 1}]
    assistant = Message("assistant", "Done.", reasoning_details=deltas)
    body = to_anthropic_body(ChatRequest("m", [*USER, assistant]), "claude")
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="}, {"type": "text", "text": "Done."}]


def test_anthropic_forced_tool_turns_thinking_off_and_pdfs_are_documents() -> None:
    from turnout.model.chat import FilePart, NamedToolChoice, Tool

    pdf = FilePart("a.pdf", "data:application/pdf;base64,JVBERi0x")
    request = ChatRequest("m", [Message("user", [TextPart("read"), pdf, TextPart("")])], tools=[Tool("f")],
                          tool_choice=NamedToolChoice("f"), reasoning=Reasoning(effort="high"))
    body = to_anthropic_body(request, "claude")
    assert "thinking" not in body and body["tool_choice"] == {"type": "tool", "name": "f"}
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "read"},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "a.pdf"}]


def test_include_reasoning_false_only_hides_it() -> None:
    hidden = Reasoning(exclude=True)  # what `include_reasoning: false` parses to
    assert to_thinking_config(hidden, None) is None
    assert "thinkingConfig" not in gemini.request.to_gemini_body(ChatRequest("m", USER, reasoning=hidden)).get("generationConfig", {})
    assert "thinking" not in zai.to_zai_body(ChatRequest("m", USER, reasoning=hidden), TARGET)
    assert "thinking" not in to_anthropic_body(ChatRequest("m", USER, reasoning=hidden), "claude")
