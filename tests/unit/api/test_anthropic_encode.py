"""Canonical results and stream events -> Anthropic Messages JSON and SSE events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.unit.api.sse_frames import frames
from turnout.api.anthropic.encode import EventEncoder, message_json, usage_json
from turnout.api.anthropic.errors import error_body, error_response
from turnout.core.context import RequestContext
from turnout.model.chat import ToolCall
from turnout.model.errors import ErrorKind, GatewayError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import (
    Finish,
    Heartbeat,
    ReasoningDelta,
    StreamEvent,
    StreamFailure,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)


def context() -> RequestContext:
    return RequestContext(accountant=None, key=None, dialect_in="anthropic", model_id="a/b", streamed=True)  # type: ignore[arg-type]


def run(events: list[StreamEvent], **kw: Any) -> list[tuple[str | None, Any]]:
    encoder = EventEncoder(context(), **kw)
    return frames(b"".join(encoder.encode(e) for e in events))


def test_usage_excludes_cache_reads_and_writes_from_input_tokens() -> None:
    u = usage_json(Usage(prompt_tokens=100, completion_tokens=7, cached_tokens=60, cache_write_tokens=30, reasoning_tokens=3),
                   Decimal("0.5"))
    assert (u["input_tokens"], u["cache_read_input_tokens"], u["cache_creation_input_tokens"]) == (10, 60, 30)
    assert u["output_tokens"] == 7 and u["output_tokens_details"] == {"thinking_tokens": 3}


def test_message_json_orders_thinking_text_tool_use() -> None:
    result = ChatResult(
        content="hi", finish_reason="tool_calls", reasoning="r",
        reasoning_details=[{"type": "reasoning.text", "text": "r", "signature": "sig"}, {"type": "reasoning.encrypted", "data": "enc"}],
        tool_calls=[ToolCall("t1", "f", '{"a": 1}'), ToolCall("t2", "g", "not json")],
    )
    m = message_json(context(), result, Usage(prompt_tokens=5, completion_tokens=2))
    assert [b["type"] for b in m["content"]] == ["thinking", "redacted_thinking", "text", "tool_use", "tool_use"]
    assert m["content"][0] == {"type": "thinking", "thinking": "r", "signature": "sig"}
    assert m["content"][3]["input"] == {"a": 1}
    assert m["content"][4]["input"] == {"_raw_arguments": "not json"}
    assert m["stop_reason"] == "tool_use" and m["type"] == "message"
    hidden = message_json(context(), result, Usage(), hide_reasoning=True)
    assert [b["type"] for b in hidden["content"]] == ["text", "tool_use", "tool_use"]


def test_stop_reasons() -> None:
    for reason, native, expected in (("stop", None, "end_turn"), ("length", "length", "max_tokens"),
                                     ("content_filter", None, "refusal"), ("stop", "stop_sequence", "stop_sequence")):
        m = message_json(context(), ChatResult(content="x", finish_reason=reason, native_finish_reason=native), Usage())
        assert m["stop_reason"] == expected


def test_stream_sequence_with_thinking_signature_text_and_tools() -> None:
    out = run([
        ReasoningDelta("think"),
        ReasoningDelta(None, [{"type": "reasoning.text", "text": "", "signature": "sig"}]),
        TextDelta("a"), TextDelta("b"),
        ToolCallDelta(0, "t1", "f", ""), ToolCallDelta(0, None, None, '{"x":'), ToolCallDelta(0, None, None, "1}"),
        UsageReport(Usage(prompt_tokens=10, completion_tokens=4), Decimal("0.01")),
        Finish("tool_calls"),
    ])
    names = [n for n, _ in out]
    assert names == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]
    data = [d for _, d in out]
    assert data[2]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert data[3]["delta"] == {"type": "thinking_delta", "thinking": "think"}
    assert data[4]["delta"] == {"type": "signature_delta", "signature": "sig"}
    assert data[6]["index"] == 1 and data[7]["delta"] == {"type": "text_delta", "text": "a"}
    assert data[10]["content_block"] == {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    assert data[11]["delta"] == {"type": "input_json_delta", "partial_json": '{"x":'}
    assert data[14]["delta"]["stop_reason"] == "tool_use"
    assert data[14]["usage"]["input_tokens"] == 10 and data[14]["usage"]["output_tokens"] == 4


def test_redacted_thinking_and_hidden_reasoning() -> None:
    out = run([ReasoningDelta(None, [{"type": "reasoning.encrypted", "data": "enc"}]), TextDelta("x"), Finish("stop")])
    starts = [d["content_block"] for n, d in out if n == "content_block_start"]
    assert starts == [{"type": "redacted_thinking", "data": "enc"}, {"type": "text", "text": ""}]
    hidden = run([ReasoningDelta("secret"), TextDelta("x"), Finish("stop")], hide_reasoning=True)
    assert [d["content_block"]["type"] for n, d in hidden if n == "content_block_start"] == ["text"]


def test_heartbeats_are_pings_and_failures_are_error_events() -> None:
    out = run([TextDelta("a"), Heartbeat(), StreamFailure(GatewayError(ErrorKind.PROVIDER_OVERLOADED, "busy"))])
    assert [n for n, _ in out][-2:] == ["ping", "error"]
    assert out[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


def test_error_types_and_statuses() -> None:
    cases = [
        (GatewayError(ErrorKind.CALLER_INVALID_REQUEST, "x"), 400, "invalid_request_error"),
        (GatewayError(ErrorKind.POLICY_AUTH_FAILED, "x"), 401, "authentication_error"),
        (GatewayError(ErrorKind.POLICY_BUDGET_EXCEEDED, "x"), 402, "billing_error"),
        (GatewayError(ErrorKind.POLICY_FORBIDDEN, "x"), 403, "permission_error"),
        (GatewayError(ErrorKind.CALLER_MODEL_UNKNOWN, "x"), 404, "not_found_error"),
        (GatewayError(ErrorKind.PROVIDER_RATE_LIMITED, "x", retry_after=7), 429, "rate_limit_error"),
        (GatewayError(ErrorKind.GATEWAY_INTERNAL, "x"), 500, "api_error"),
        (GatewayError(ErrorKind.PROVIDER_SERVER_ERROR, "x"), 502, "api_error"),
        (GatewayError(ErrorKind.PROVIDER_OVERLOADED, "x"), 503, "overloaded_error"),
        (GatewayError(ErrorKind.PROVIDER_TIMEOUT, "x"), 504, "timeout_error"),
    ]
    for err, status, kind in cases:
        r = error_response(err)
        assert (r.status_code, error_body(err)["error"]["type"]) == (status, kind)
    assert error_response(cases[5][0]).headers["retry-after"] == "7"
