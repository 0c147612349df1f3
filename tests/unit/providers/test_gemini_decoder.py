"""The Gemini stream decoder, fed `streamGenerateContent?alt=sse` (CRLF-framed) byte by byte and whole."""

from __future__ import annotations

import pytest

from tests.unit.providers.streams import TARGET, decode
from turnout.model.errors import ErrorKind
from turnout.model.stream import Finish, ReasoningDelta, StreamFailure, TextDelta, ToolCallDelta, UsageReport
from turnout.providers.gemini import GeminiStreamDecoder

FMT = "google-gemini-v1"
STREAM = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "Weather wanted; ", "thought": true}],"role": "model"},'
    b'"index": 0}],"usageMetadata": {"promptTokenCount": 900,"cachedContentTokenCount": 512,"totalTokenCount": 900},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": "call the tool.", "thought": true}],"role": "model"},'
    b'"index": 0}],"usageMetadata": {"promptTokenCount": 900,"cachedContentTokenCount": 512,"totalTokenCount": 900},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": "Temp\xc3\xa9rature: "}],"role": "model"},"index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 900,"totalTokenCount": 903},"responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris"}},'
    b'"thoughtSignature": "CiQB0e2K"}],"role": "model"},"finishReason": "STOP","index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": 20,"thoughtsTokenCount": 64,'
    b'"cachedContentTokenCount": 512,"totalTokenCount": 984},"responseId": "r1"}\r\n\r\n'
)


@pytest.mark.parametrize("step", [1, 13, len(STREAM)])
def test_whole_sequence(step: int) -> None:
    events = decode(GeminiStreamDecoder(TARGET), STREAM, step)
    assert events == [
        ReasoningDelta("Weather wanted; ", [{"type": "reasoning.text", "text": "Weather wanted; ", "format": FMT, "index": 0}]),
        ReasoningDelta("call the tool.", [{"type": "reasoning.text", "text": "call the tool.", "format": FMT, "index": 0}]),
        TextDelta("Température: "),
        ToolCallDelta(0, "call_gemini_0", "get_weather", '{"city":"Paris"}'),
        ReasoningDelta(None, [{"type": "reasoning.encrypted", "data": "CiQB0e2K", "format": FMT, "index": 1, "id": "call_gemini_0"}]),
        events[5],
        Finish("tool_calls", "STOP"),
    ]
    usage = events[5]
    assert isinstance(usage, UsageReport)
    u = usage.usage
    assert (u.prompt_tokens, u.cached_tokens, u.completion_tokens, u.reasoning_tokens) == (900, 512, 84, 64)


def test_byte_at_a_time_equals_whole() -> None:
    assert decode(GeminiStreamDecoder(TARGET), STREAM, 1) == decode(GeminiStreamDecoder(TARGET), STREAM, len(STREAM))


def test_cut_stream_keeps_the_usage_so_far() -> None:
    cut = STREAM[: STREAM.index(b'data: {"candidates": [{"content": {"parts": [{"functionCall"')]
    events = decode(GeminiStreamDecoder(TARGET), cut, 1)
    assert isinstance(events[-2], UsageReport) and events[-2].usage.prompt_tokens == 900
    assert isinstance(events[-1], StreamFailure) and events[-1].error.kind is ErrorKind.PROVIDER_BAD_RESPONSE


def test_error_chunk_mid_stream() -> None:
    cut = STREAM[: STREAM.index(b"data:", 10)]
    raw = cut + b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n'
    events = decode(GeminiStreamDecoder(TARGET), raw, 1)
    assert isinstance(events[-1], StreamFailure) and events[-1].error.kind is ErrorKind.PROVIDER_OVERLOADED


def test_max_tokens_and_safety() -> None:
    for native, reason in (("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("MALFORMED_FUNCTION_CALL", "error")):
        raw = b'data: {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "' + native.encode() + b'"}]}\r\n\r\n'
        assert decode(GeminiStreamDecoder(TARGET), raw, 4)[-1] == Finish(reason, native)


def test_a_blocked_prompt_streams_its_own_block_reason() -> None:
    """The stream used to report any blocked prompt as PROHIBITED_CONTENT; the reason Gemini gave is kept."""
    raw = b'data: {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}\r\n\r\n'
    events = decode(GeminiStreamDecoder(TARGET), raw, 3)
    assert events[-1] == Finish("content_filter", "SAFETY")
