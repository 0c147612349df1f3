"""The Anthropic stream decoder, fed the Messages streaming format byte by byte and whole."""

from __future__ import annotations

import pytest

from tests.unit.providers.streams import TARGET, decode
from turnout.model.errors import ErrorKind, FailureClass
from turnout.model.stream import Finish, ReasoningDelta, StreamFailure, TextDelta, ToolCallDelta, UsageReport
from turnout.providers.anthropic import AnthropicStreamDecoder

# The event sequence of docs.anthropic.com/en/docs/build-with-claude/streaming (thinking + tool use).
STREAM = (
    b'event: message_start\n'
    b'data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],'
    b'"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,'
    b'"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":2}}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_start\n'
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Caf\xc3\xa9 \xe2\x80\xa8 is "}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"open."}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAh"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\n'
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking \xf0\x9f\x8c\xa6"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
    b'event: content_block_start\n'
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x",'
    b'"name":"get_weather","input":{}}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": \\"Pa"}}\n\n'
    b'event: content_block_delta\n'
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\\"}"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n'
    b'event: message_delta\n'
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
FMT = "anthropic-claude-v1"


@pytest.mark.parametrize("step", [1, 7, len(STREAM)])
def test_whole_sequence(step: int) -> None:
    events = decode(AnthropicStreamDecoder(TARGET), STREAM, step)
    assert events[:3] == [
        ReasoningDelta("Café \u2028 is ", [{"type": "reasoning.text", "text": "Café \u2028 is ", "format": FMT, "index": 0}]),
        ReasoningDelta("open.", [{"type": "reasoning.text", "text": "open.", "format": FMT, "index": 0}]),
        ReasoningDelta(None, [{"type": "reasoning.text", "text": "", "format": FMT, "index": 0, "signature": "EqQBCgIYAh"}]),
    ]
    assert events[3] == TextDelta("Checking \U0001f326")
    assert events[4:7] == [
        ToolCallDelta(0, "toolu_01T1x", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"city": "Pa'),
        ToolCallDelta(0, None, None, 'ris"}'),
    ]
    usage = events[7]
    assert isinstance(usage, UsageReport)
    assert usage.usage.prompt_tokens == 472 + 100 + 2000  # input_tokens excludes cache reads and writes
    assert usage.usage.cached_tokens == 2000 and usage.usage.cache_write_tokens == 100
    assert usage.usage.completion_tokens == 89 and 0 < usage.usage.reasoning_tokens <= 89
    assert usage.usage.reasoning_estimated  # no output_tokens_details: counted from the text, and marked so
    assert events[8:] == [Finish("tool_calls", "tool_use")]


def test_reported_thinking_tokens_win_over_the_estimate() -> None:
    """A 150-token thought used to be recorded from its characters (23); Anthropic's own count is taken now."""
    reported = STREAM.replace(b'"usage":{"output_tokens":89}', b'"usage":{"output_tokens":189,"output_tokens_details":{"thinking_tokens":150}}')
    usage = next(e for e in decode(AnthropicStreamDecoder(TARGET), reported, 5) if isinstance(e, UsageReport))
    assert (usage.usage.completion_tokens, usage.usage.reasoning_tokens) == (189, 150)
    assert not usage.usage.reasoning_estimated


def test_byte_at_a_time_equals_whole() -> None:
    assert decode(AnthropicStreamDecoder(TARGET), STREAM, 1) == decode(AnthropicStreamDecoder(TARGET), STREAM, len(STREAM))


def test_cut_before_message_stop_reports_partial_usage_then_failure() -> None:
    cut = STREAM[: STREAM.index(b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")]
    events = decode(AnthropicStreamDecoder(TARGET), cut, 1)
    assert isinstance(events[-2], UsageReport) and events[-2].usage.prompt_tokens == 2572
    assert events[-2].usage.completion_tokens >= 2
    assert isinstance(events[-1], StreamFailure) and events[-1].error.kind is ErrorKind.PROVIDER_BAD_RESPONSE


def test_error_event_mid_stream() -> None:
    raw = STREAM[: STREAM.index(b"event: content_block_stop")] + (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    events = decode(AnthropicStreamDecoder(TARGET), raw, 3)
    failure = events[-1]
    assert isinstance(failure, StreamFailure)
    assert failure.error.kind is ErrorKind.PROVIDER_OVERLOADED
    assert failure.error.failure is FailureClass.RATE_LIMIT and "Overloaded" in failure.error.message
    assert not any(isinstance(e, Finish) for e in events)


def test_message_delta_without_message_stop_still_finishes() -> None:
    raw = STREAM[: STREAM.index(b"event: message_stop")]
    assert decode(AnthropicStreamDecoder(TARGET), raw, 5)[-1] == Finish("tool_calls", "tool_use")


def test_garbage_is_a_bad_response_not_an_exception() -> None:
    events = decode(AnthropicStreamDecoder(TARGET), b"event: message_start\ndata: {not json\n\n", 1)
    assert len(events) == 1 and isinstance(events[0], StreamFailure)
    assert events[0].error.kind is ErrorKind.PROVIDER_BAD_RESPONSE


def test_overloaded_right_after_message_start_is_the_first_event() -> None:
    """Anthropic may answer 200 and then an `error` event: dispatch can still fall back then."""
    raw = STREAM[: STREAM.index(b"event: ping")] + (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    events = decode(AnthropicStreamDecoder(TARGET), raw, 1)
    assert len(events) == 1 and isinstance(events[0], StreamFailure)
    assert events[0].error.kind is ErrorKind.PROVIDER_OVERLOADED
