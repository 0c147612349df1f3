"""SSE framing: CR, LF and CRLF end lines; nothing else does (not U+2028, U+2029, U+0085)."""

from __future__ import annotations

import json
import time

import pytest

from turnout.providers.sse import SSEEvent, SSELimitExceeded, SSEParser


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


# --- bounds and linear time ------------------------------------------------------------------------

def test_a_line_longer_than_its_limit_is_refused_whole_or_in_pieces() -> None:
    for chunks in ([b"data: " + b"x" * 2000 + b"\n"], [b"data: "] + [b"x" * 100] * 20):
        p = SSEParser(max_line=1000)
        with pytest.raises(SSELimitExceeded) as caught:
            for c in chunks:
                p.feed(c)
        assert caught.value.setting == "upstream_max_sse_line_bytes" and "1000 bytes" in str(caught.value)


def test_an_event_longer_than_its_limit_is_refused() -> None:
    p = SSEParser(max_line=1000, max_event=5000)
    with pytest.raises(SSELimitExceeded) as caught:
        for _ in range(20):
            p.feed(b"data: " + b"x" * 500 + b"\n")  # never a blank line
    assert caught.value.setting == "upstream_max_sse_event_bytes"
    p = SSEParser(max_line=1000, max_event=5000)
    for _ in range(20):  # the same lines as separate events are fine
        assert len(p.feed(b"data: " + b"x" * 500 + b"\n\n")) == 1


def test_a_line_split_over_many_chunks_is_joined_once_in_linear_time() -> None:
    """Before, each chunk copied the whole unfinished line: 16 MiB in 1 KiB chunks was ~128 GiB of
    copying. Now the pieces are joined once; a generous bound keeps this test quiet on a busy machine."""
    p = SSEParser()
    started = time.perf_counter()
    assert p.feed(b"data: ") == []
    piece = b"x" * 1024
    for _ in range((16 << 20) // 1024 - 1):
        assert p.feed(piece) == []
    events = p.feed(b"\n\n")
    assert time.perf_counter() - started < 5
    assert len(events) == 1 and len(events[0].data) == (16 << 20) - 1024


def test_many_cr_line_ends_in_one_chunk_are_found_in_linear_time() -> None:
    """Before, every CR-ended line searched the rest of the chunk for an LF again."""
    started = time.perf_counter()
    events = SSEParser().feed(b"data: x\r\r" * 200_000)
    assert time.perf_counter() - started < 5
    assert len(events) == 200_000
