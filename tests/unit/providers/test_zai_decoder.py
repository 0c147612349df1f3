"""The Z.ai stream decoder, fed Z.ai's chat-completion stream byte by byte and whole."""

from __future__ import annotations

import pytest

from tests.unit.providers.streams import TARGET, decode
from turnout.model.errors import ErrorKind, FailureClass
from turnout.model.stream import Finish, ReasoningDelta, StreamFailure, TextDelta, ToolCallDelta, UsageReport
from turnout.providers.zai import ZaiStreamDecoder

HEAD = b'"id":"2025112210","created":1763800000,"model":"glm-4.6"'
STREAM = (
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"\xe7\x94\xa8\xe6\x88\xb7 asks"}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":" for weather"}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me look."}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"id":"call_-81","index":0,'
    b'"type":"function","function":{"name":"get_weather","arguments":""}}]}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,'
    b'"function":{"arguments":"{\\"city\\":"}}]}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,'
    b'"function":{"arguments":"\\"Paris\\"}"}}]}}]}\n\n'
    b'data: {' + HEAD + b',"choices":[{"index":0,"finish_reason":"tool_calls","delta":{"role":"assistant","content":""}}],'
    b'"usage":{"prompt_tokens":300,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":256},"total_tokens":340}}\n\n'
    b'data: [DONE]\n\n'
)


@pytest.mark.parametrize("step", [1, 11, len(STREAM)])
def test_whole_sequence(step: int) -> None:
    events = decode(ZaiStreamDecoder(TARGET), STREAM, step)
    assert events[:2] == [
        ReasoningDelta("用户 asks", [{"type": "reasoning.text", "text": "用户 asks", "format": "unknown", "index": 0}]),
        ReasoningDelta(" for weather", [{"type": "reasoning.text", "text": " for weather", "format": "unknown", "index": 0}]),
    ]
    assert events[2:6] == [
        TextDelta("Let me look."),
        ToolCallDelta(0, "call_-81", "get_weather", ""),
        ToolCallDelta(0, None, None, '{"city":'),
        ToolCallDelta(0, None, None, '"Paris"}'),
    ]
    usage = events[6]
    assert isinstance(usage, UsageReport)
    assert (usage.usage.prompt_tokens, usage.usage.completion_tokens, usage.usage.cached_tokens) == (300, 40, 256)
    assert usage.usage.reasoning_tokens == 5  # estimated from 17 characters: this usage does not split it out
    assert usage.usage.reasoning_estimated and not usage.usage.estimated  # ...and it says so
    assert events[7:] == [Finish("tool_calls", "tool_calls")]


def test_byte_at_a_time_equals_whole() -> None:
    assert decode(ZaiStreamDecoder(TARGET), STREAM, 1) == decode(ZaiStreamDecoder(TARGET), STREAM, len(STREAM))


def test_sensitive_finish_is_content_filter() -> None:
    raw = b'data: {"choices":[{"index":0,"finish_reason":"sensitive","delta":{"content":""}}]}\n\ndata: [DONE]\n\n'
    assert decode(ZaiStreamDecoder(TARGET), raw, 1) == [Finish("content_filter", "sensitive")]


def test_cut_stream_fails() -> None:
    cut = STREAM[: STREAM.index(b'data: {' + HEAD + b',"choices":[{"index":0,"finish_reason"')]
    events = decode(ZaiStreamDecoder(TARGET), cut, 1)
    assert isinstance(events[-1], StreamFailure) and events[-1].error.kind is ErrorKind.PROVIDER_BAD_RESPONSE
    assert not any(isinstance(e, Finish) for e in events)


def test_error_frame_with_overload_code() -> None:
    raw = STREAM[: STREAM.index(b"data:", 10)] + b'data: {"error":{"code":"1305","message":"overloaded"}}\n\n'
    events = decode(ZaiStreamDecoder(TARGET), raw, 2)
    assert isinstance(events[-1], StreamFailure)
    assert events[-1].error.kind is ErrorKind.PROVIDER_OVERLOADED and events[-1].error.failure is FailureClass.RATE_LIMIT


def test_web_search_is_counted_once() -> None:
    raw = (b'data: {"web_search":[{"title":"t","link":"https://x.example"}]}\n\n'
           b'data: {"choices":[{"index":0,"finish_reason":"stop","delta":{"content":"ok"}}],'
           b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\ndata: [DONE]\n\n')
    events = decode(ZaiStreamDecoder(TARGET), raw, 1)
    usage = next(e for e in events if isinstance(e, UsageReport))
    assert usage.usage.web_search_requests == 1
    assert events[-1] == Finish("stop", "stop")


def test_reported_reasoning_tokens_are_taken_as_reported() -> None:
    reported = STREAM.replace(b'"total_tokens":340}', b'"total_tokens":340,"completion_tokens_details":{"reasoning_tokens":31}}')
    usage = next(e for e in decode(ZaiStreamDecoder(TARGET), reported, 7) if isinstance(e, UsageReport))
    assert usage.usage.reasoning_tokens == 31 and not usage.usage.reasoning_estimated
    zero = STREAM.replace(b'"total_tokens":340}', b'"total_tokens":340,"completion_tokens_details":{"reasoning_tokens":0}}')
    usage = next(e for e in decode(ZaiStreamDecoder(TARGET), zero, 7) if isinstance(e, UsageReport))
    assert usage.usage.reasoning_tokens == 0 and not usage.usage.reasoning_estimated  # a reported 0 is not re-estimated
