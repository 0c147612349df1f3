"""What only one dialect does: Z.ai's limits and web search, the multi-turn round trips of
reasoning details and tool results, and each dialect's own request shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from tests.conformance.conftest import ConformanceGateway
from tests.conformance.test_matrix import PHOTO, USER, WEATHER_TOOL, model
from tests.fakes import anthropic_upstream, gemini_upstream, zai_upstream


def sent(conf: ConformanceGateway, dialect: str) -> dict[str, Any]:
    return conf.fakes.last(dialect)["body"]


def two_turns(conf: ConformanceGateway, dialect: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Turn 1 calls the tool with reasoning on; turn 2 sends that message back with the tool's result.

    Returns (the assistant message of turn 1, the body turn 2 sent upstream).
    """
    r = conf.post({"model": model(dialect, "tools"), "messages": USER, "tools": [WEATHER_TOOL], "max_tokens": 4000,
                   "reasoning": {"effort": "high"}})
    assert r.status_code == 200, r.text
    assistant = r.json()["choices"][0]["message"]
    call = assistant["tool_calls"][0]
    turn2 = [*USER, assistant, {"role": "tool", "tool_call_id": call["id"], "content": '{"temp_c": 21}'}]
    r = conf.post({"model": model(dialect, "echo"), "messages": turn2, "tools": [WEATHER_TOOL], "max_tokens": 4000,
                   "reasoning": {"effort": "high"}})
    assert r.status_code == 200, r.text
    return assistant, sent(conf, dialect)


# --- Z.ai -------------------------------------------------------------------------------------------

def test_zai_limits_are_clamped_and_unknown_parameters_dropped(conf: ConformanceGateway) -> None:
    r = conf.post({"model": model("zai", "echo"), "messages": USER, "temperature": 1.5, "top_p": 0.0,
                   "stop": ["END", "STOP"], "seed": 7, "frequency_penalty": 0.5, "top_k": 40, "logit_bias": {"1": 2},
                   "user": "user-12345", "max_tokens": 64})
    assert r.status_code == 200, r.text
    body = sent(conf, "zai")
    assert body["temperature"] == 1.0 and body["top_p"] == 0.01 and body["stop"] == ["END"]
    assert body["user_id"] == "user-12345" and body["max_tokens"] == 64
    for dropped in ("seed", "frequency_penalty", "top_k", "logit_bias", "user"):
        assert dropped not in body


def test_zai_zero_temperature_is_greedy_and_short_user_ids_are_dropped(conf: ConformanceGateway) -> None:
    assert conf.post({"model": model("zai", "echo"), "messages": USER, "temperature": 0, "user": "bob"}).status_code == 200
    body = sent(conf, "zai")
    assert body["do_sample"] is False and "temperature" not in body
    assert "user_id" not in body  # Z.ai wants 6-128 characters


def test_zai_tool_choice_only_auto(conf: ConformanceGateway) -> None:
    conf.post({"model": model("zai", "echo"), "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "required"})
    assert sent(conf, "zai")["tool_choice"] == "auto"
    conf.post({"model": model("zai", "echo"), "messages": USER, "tools": [WEATHER_TOOL], "tool_choice": "none"})
    assert "tools" not in sent(conf, "zai") and "tool_choice" not in sent(conf, "zai")
    conf.stream({"model": model("zai", "echo"), "messages": USER})
    assert "tool_stream" not in sent(conf, "zai")  # only when tools are streamed


@pytest.mark.parametrize("how", [{"plugins": [{"id": "web", "max_results": 3}]}, {"web_search_options": {"search_context_size": "low"}}],
                         ids=["plugin", "web_search_options"])
def test_zai_web_search(conf: ConformanceGateway, how: dict[str, Any]) -> None:
    r = conf.post({"model": model("zai", "web"), "messages": USER, **how})
    assert r.status_code == 200, r.text
    [tool] = sent(conf, "zai")["tools"]
    assert tool["type"] == "web_search" and tool["web_search"]["enable"] is True and tool["web_search"]["search_result"] is True
    if "plugins" in how:
        assert tool["web_search"]["count"] == 3
    assert "web_search_options" not in sent(conf, "zai")
    [note] = r.json()["choices"][0]["message"]["annotations"]
    assert note == {"type": "url_citation", "url_citation": {"url": "https://weather.example/paris", "title": "Paris weather",
                                                            "content": "Sunny, 21C"}}


def test_zai_video_and_file_parts(conf: ConformanceGateway) -> None:
    video = [{"type": "text", "text": "summarize"}, {"type": "video_url", "video_url": {"url": "https://v.example/a.mp4"}}]
    document = [{"type": "text", "text": "and this"}, {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://f.example/a.pdf"}}]
    messages = [{"role": "user", "content": video}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": document}]
    assert conf.post({"model": model("zai", "echo"), "messages": messages}).status_code == 200
    sent_messages = sent(conf, "zai")["messages"]
    assert sent_messages[0]["content"][1] == {"type": "video_url", "video_url": {"url": "https://v.example/a.mp4"}}
    assert sent_messages[2]["content"][1] == {"type": "file_url", "file_url": {"url": "https://f.example/a.pdf"}}
    # Z.ai's spec: a file cannot share a message with images or videos; and files go by URL only.
    mixed = [{"role": "user", "content": [*video, document[1]]}]
    r = conf.post({"model": model("zai", "echo"), "messages": mixed})
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "messages[0].content[2]", r.text
    inline = [{"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}]}]
    r = conf.post({"model": model("zai", "echo"), "messages": inline})
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "messages[0].content[0]", r.text


def test_zai_reasoning_goes_back_as_reasoning_content(conf: ConformanceGateway) -> None:
    r = conf.post({"model": model("zai", "reasoning"), "messages": USER, "reasoning": {"enabled": True}})
    assistant = r.json()["choices"][0]["message"]
    assert assistant["reasoning_details"][0]["text"] == assistant["reasoning"]
    conf.post({"model": model("zai", "echo"), "messages": [*USER, assistant, {"role": "user", "content": "and?"}]})
    back = sent(conf, "zai")["messages"][1]
    assert back["role"] == "assistant" and back["reasoning_content"] == assistant["reasoning"]


@pytest.mark.parametrize("scenario", ["reasoning", "reasoning-unreported"])
def test_zai_reasoning_tokens_as_reported_else_estimated_and_marked(conf: ConformanceGateway, scenario: str) -> None:
    r = conf.post({"model": f"conf-zai/{scenario}", "messages": USER, "reasoning": {"enabled": True}})
    assert r.status_code == 200, r.text
    record = conf.generation(r.json()["id"])
    if scenario == "reasoning":
        assert record["native_tokens_reasoning"] == zai_upstream.REASONING_TOKENS and not record["usage_estimated"]
    else:  # 47 characters of reasoning, counted at 4 a token, and the record says so
        assert record["native_tokens_reasoning"] == 12 and record["usage_estimated"]


# --- Anthropic --------------------------------------------------------------------------------------

def test_anthropic_round_trip_keeps_signed_thinking_and_tool_ids(conf: ConformanceGateway) -> None:
    assistant, body = two_turns(conf, "anthropic")
    assert assistant["reasoning_details"][0]["signature"] == anthropic_upstream.SIGNATURE
    blocks = body["messages"][1]["content"]
    assert blocks[0] == {"type": "thinking", "thinking": anthropic_upstream.THINKING, "signature": anthropic_upstream.SIGNATURE}
    assert blocks[1] == {"type": "text", "text": "Let me check."}
    assert blocks[2] == {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                         "input": anthropic_upstream.INPUT}
    assert body["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": '{"temp_c": 21}'}]}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3200}


def test_anthropic_system_cache_control_and_choices(conf: ConformanceGateway) -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "hello there"},
    ]
    r = conf.post({"model": model("anthropic", "echo"), "messages": messages, "stop": ["END"], "temperature": 1.7,
                   "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                   "parallel_tool_calls": False, "user": "user-42"})
    assert r.status_code == 200, r.text
    body = sent(conf, "anthropic")
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                              {"type": "text", "text": "Answer in French."}]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["stop_sequences"] == ["END"]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert body["metadata"] == {"user_id": "user-42"}
    # The API version the SDK sends takes no sampling parameter: dropped, never rewritten, and recorded.
    assert "temperature" not in body and "top_p" not in body
    [attempt] = conf.generation(r.json()["id"])["attempts"]
    assert attempt["adjusted"] == [{"param": "temperature", "action": "dropped",
                                    "reason": f"Anthropic's Messages API (version {ANTHROPIC_API_VERSION}) has no temperature"}]


def test_anthropic_sampling_is_not_routed_under_require_parameters(conf: ConformanceGateway) -> None:
    """Anthropic endpoints do not advertise sampling parameters, so require_parameters routes nowhere."""
    r = conf.post({"model": model("anthropic", "echo"), "messages": USER, "top_p": 0.5,
                   "provider": {"require_parameters": True}})
    assert r.status_code == 404 and "does not support top_p" in r.json()["error"]["message"], r.text


def test_anthropic_adaptive_model_rules(conf: ConformanceGateway) -> None:
    """An endpoint whose rules say adaptive thinking with three effort levels (Opus 4.6's form, minus max)."""
    r = conf.post({"model": "conf-anthropic/adaptive", "messages": USER, "reasoning": {"effort": "xhigh", "max_tokens": 3000}})
    assert r.status_code == 200, r.text
    body = sent(conf, "anthropic")
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"} and body["output_config"] == {"effort": "high"}
    [attempt] = conf.generation(r.json()["id"])["attempts"]
    assert [(a["param"], a["action"]) for a in attempt["adjusted"]] == [("reasoning.effort", "changed"),
                                                                         ("reasoning.max_tokens", "dropped")]
    before = len(conf.fakes.anthropic[1].requests)
    r = conf.post({"model": "conf-anthropic/adaptive", "messages": USER, "reasoning": {"effort": "xhigh"},
                   "provider": {"require_parameters": True}})
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "reasoning.effort", r.text
    assert len(conf.fakes.anthropic[1].requests) == before  # refused before anything went upstream


def test_anthropic_thinking_never_rewrites_top_p(conf: ConformanceGateway) -> None:
    """The old translator raised a caller's top_p 0.5 to 0.95 when thinking; now it is dropped and listed."""
    r = conf.post({"model": model("anthropic", "reasoning"), "messages": USER, "top_p": 0.5, "max_tokens": 4000,
                   "reasoning": {"effort": "high"}})
    assert r.status_code == 200, r.text
    body = sent(conf, "anthropic")
    assert "top_p" not in body and body["thinking"]["type"] == "enabled"
    [attempt] = conf.generation(r.json()["id"])["attempts"]
    assert [a["param"] for a in attempt["adjusted"]] == ["top_p"]
    usage = r.json()["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == anthropic_upstream.THINKING_TOKENS  # as reported


def test_anthropic_thinking_budget_follows_openrouter(conf: ConformanceGateway) -> None:
    for effort, budget in (("minimal", 1024), ("low", 2000), ("high", 8000), ("xhigh", 9500)):
        conf.post({"model": model("anthropic", "echo"), "messages": USER, "max_tokens": 10000, "temperature": 0.3,
                   "reasoning": {"effort": effort}})
        body = sent(conf, "anthropic")
        assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}, effort
        assert body["max_tokens"] == 10000 and "temperature" not in body  # thinking takes the default only
    conf.post({"model": model("anthropic", "echo"), "messages": USER, "reasoning": {"max_tokens": 6000}})
    body = sent(conf, "anthropic")
    assert body["thinking"]["budget_tokens"] == 6000 and body["max_tokens"] > 6000


@pytest.mark.parametrize(("part", "param"), [
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, "messages[0].content[0]"),
    ({"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}, "messages[0].content[0]"),
])
def test_anthropic_refuses_what_it_cannot_take(conf: ConformanceGateway, part: dict[str, Any], param: str) -> None:
    r = conf.post({"model": model("anthropic", "echo"), "messages": [{"role": "user", "content": [part]}]})
    assert r.status_code == 400
    assert r.json()["error"]["metadata"]["param"] == param


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_anthropic_tool_call_without_input_has_empty_object_arguments(conf: ConformanceGateway, stream: bool) -> None:
    """A tool without parameters streams no input_json_delta at all; its arguments are still `{}`."""
    body = {"model": "conf-anthropic/tools-noargs", "messages": USER, "tools": [WEATHER_TOOL]}
    if stream:
        status, chunks, done = conf.stream(body)
        assert status == 200 and done
        args = "".join(tc["function"].get("arguments") or "" for c in chunks for ch in c.get("choices") or ()
                       for tc in (ch.get("delta") or {}).get("tool_calls") or ())
    else:
        r = conf.post(body)
        assert r.status_code == 200, r.text
        args = r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == {}


def test_anthropic_refusal_is_content_filter_with_the_explanation(conf: ConformanceGateway) -> None:
    r = conf.post({"model": "conf-anthropic/refusal", "messages": USER})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["native_finish_reason"] == "refusal"
    assert choice["message"]["refusal"] == anthropic_upstream.REFUSAL_DETAILS["explanation"]
    status, chunks, done = conf.stream({"model": "conf-anthropic/refusal", "messages": USER})
    finishes = [(ch["finish_reason"], ch.get("native_finish_reason")) for c in chunks for ch in c.get("choices") or ()
                if ch.get("finish_reason")]
    assert status == 200 and done and finishes == [("content_filter", "refusal")]


def test_anthropic_web_citations_become_url_citations(conf: ConformanceGateway) -> None:
    r = conf.post({"model": "conf-anthropic/citations", "messages": USER})
    assert r.status_code == 200, r.text
    [note] = r.json()["choices"][0]["message"]["annotations"]
    citation = anthropic_upstream.CITATION
    assert note == {"type": "url_citation", "url_citation": {"url": citation["url"], "title": citation["title"],
                                                            "content": citation["cited_text"]}}
    status, chunks, done = conf.stream({"model": "conf-anthropic/citations", "messages": USER})
    assert status == 200 and done  # citations_delta events are read without breaking the stream
    text = "".join((ch.get("delta") or {}).get("content") or "" for c in chunks for ch in c.get("choices") or ())
    assert text == "echo: hello there"


# --- Gemini -----------------------------------------------------------------------------------------

def test_gemini_round_trip_keeps_signatures_and_names_function_responses(conf: ConformanceGateway) -> None:
    assistant, body = two_turns(conf, "gemini")
    signature = [d for d in assistant["reasoning_details"] if d["type"] == "reasoning.encrypted"]
    assert signature == [{"type": "reasoning.encrypted", "data": gemini_upstream.SIGNATURE, "format": "google-gemini-v1",
                          "index": 1, "id": "call_gemini_0"}]
    model_turn, tool_turn = body["contents"][1], body["contents"][2]
    assert model_turn == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": gemini_upstream.ARGS}, "thoughtSignature": gemini_upstream.SIGNATURE}]}
    assert tool_turn == {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}]}


def test_gemini_request_shape(conf: ConformanceGateway) -> None:
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    r = conf.post({"model": model("gemini", "echo"), "messages": messages, "stop": ["END"], "seed": 3, "top_k": 20,
                   "max_tokens": 100, "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    assert r.status_code == 200, r.text
    body = sent(conf, "gemini")
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {"stopSequences": ["END"], "seed": 3, "topK": 20, "maxOutputTokens": 100}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert [c["role"] for c in body["contents"]] == ["user"]


def test_gemini_http_images_go_by_uri(conf: ConformanceGateway) -> None:
    content = [{"type": "image_url", "image_url": {"url": PHOTO}}, {"type": "text", "text": "what"}]
    conf.post({"model": model("gemini", "echo"), "messages": [{"role": "user", "content": content}]})
    assert sent(conf, "gemini")["contents"][0]["parts"][0] == {"fileData": {"mimeType": "image/jpeg", "fileUri": PHOTO}}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_gemini_malformed_function_call_is_an_error_finish(conf: ConformanceGateway, stream: bool) -> None:
    """It used to be reported as `stop`, as if the model had answered."""
    body = {"model": "conf-gemini/malformed", "messages": USER, "tools": [WEATHER_TOOL]}
    if stream:
        status, chunks, done = conf.stream(body)
        assert status == 200 and done
        finishes = [(ch["finish_reason"], ch.get("native_finish_reason")) for c in chunks for ch in c.get("choices") or ()
                    if ch.get("finish_reason")]
    else:
        r = conf.post(body)
        assert r.status_code == 200, r.text
        choice = r.json()["choices"][0]
        finishes = [(choice["finish_reason"], choice["native_finish_reason"])]
    assert finishes == [("error", "MALFORMED_FUNCTION_CALL")]


def test_gemini_rate_limit_uses_retry_info(conf: ConformanceGateway) -> None:
    """Gemini says when to retry in the body (RetryInfo.retryDelay), not in a header."""
    r = conf.post({"model": model("gemini", "error-429-again"), "messages": USER})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert json.loads(r.text)["error"]["metadata"]["raw"]["error"]["status"] == "RESOURCE_EXHAUSTED"


# --- what endpoints advertise -----------------------------------------------------------------------

@pytest.mark.parametrize(("dialect", "structured"), [("openai", True), ("zai", False), ("anthropic", True), ("gemini", True)])
def test_structured_outputs_advertised_only_where_native(conf: ConformanceGateway, dialect: str, structured: bool) -> None:
    r = httpx.get(f"{conf.api}/models/conf-{dialect}/structured/endpoints")
    assert r.status_code == 200, r.text
    [endpoint] = r.json()["data"]["endpoints"]
    assert ("structured_outputs" in endpoint["supported_parameters"]) is structured
    rf = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    r = conf.post({"model": model(dialect, "structured"), "messages": USER, "response_format": rf,
                   "provider": {"require_parameters": True}})
    assert (r.status_code == 200) is structured, r.text


def test_anthropic_error_event_before_content_falls_back(conf: ConformanceGateway) -> None:
    status, chunks, done = conf.stream({"model": "conf-anthropic/fallback", "messages": USER,
                                        "provider": {"order": ["conf-anthropic", "conf-anthropic-b"], "allow_fallbacks": True}})
    assert status == 200 and done, chunks
    assert "".join((ch.get("delta") or {}).get("content") or "" for c in chunks for ch in c.get("choices") or ()) == "echo: hello there"
    assert chunks[0]["provider"] == "Conf Anthropic B"
    assert [r["body"]["model"] for r in conf.fakes.anthropic[1].requests[-2:]] == ["early-overload", "echo"]
