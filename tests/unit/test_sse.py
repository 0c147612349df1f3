"""SSE framing: CR, LF and CRLF end lines; nothing else does (not U+2028, U+2029, U+0085)."""

from __future__ import annotations

import json

import pytest

from turnout.providers.sse import SSEEvent, SSEParser


def parse(chunks: list[bytes]) -> list[SSEEvent]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for c in chunks:
        out += p.feed(c)
    return out + p.flush()


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


STREAM = b'event: message_start\ndata: {"a": 1}\n\n: a comment\n\ndata: line1\ndata: line2\nid: 7\n\n'


@pytest.mark.parametrize("split", [lambda d: [d], bytewise, lambda d: [d[:13], d[13:29], d[29:]]])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_events_whatever_the_line_endings_and_chunking(split, newline: bytes) -> None:
    data = STREAM.replace(b"\n", newline)
    events = parse(split(data))
    assert [(e.event, e.data, e.id) for e in events] == [("message_start", '{"a": 1}', None), (None, "line1\nline2", "7")]


def test_unicode_line_separators_inside_json_do_not_split() -> None:
    payload = {"content": "a\u2028b\u2029c\x85d\x0be\x0cf"}
    raw = b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"
    for chunks in ([raw], bytewise(raw)):
        events = parse(chunks)
        assert len(events) == 1 and json.loads(events[0].data) == payload


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    events = parse([b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n"])
    assert [e.data for e in events] == ["x", "y"]


def test_multibyte_utf8_split_across_chunks() -> None:
    raw = 'data: {"t": "héllo 世界"}\n\n'.encode()
    assert json.loads(parse(bytewise(raw))[0].data) == {"t": "héllo 世界"}


def test_last_event_without_blank_line_is_flushed() -> None:
    assert [e.data for e in parse([b"data: [DONE]"])] == ["[DONE]"]


def test_field_without_space_and_unknown_fields() -> None:
    events = parse([b"data:x\nretry: 100\nfoo: bar\n\n"])
    assert events[0].data == "x"
