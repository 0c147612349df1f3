"""Feeding raw upstream bytes through the SSE parser and a stream decoder, in chunks of any size."""

from __future__ import annotations

from typing import Any, Protocol

from turnout.model.stream import StreamEvent
from turnout.providers.base import Target
from turnout.providers.sse import SSEEvent, SSEParser

TARGET = Target(provider="p", provider_name="Prov", dialect="x", upstream_model="m", base_url="http://127.0.0.1:9")


class Decoder(Protocol):
    def feed(self, event: SSEEvent) -> Any: ...

    def close(self) -> Any: ...


def decode(decoder: Decoder, raw: bytes, step: int) -> list[StreamEvent]:
    parser = SSEParser()
    out: list[StreamEvent] = []
    for i in range(0, len(raw), step):
        for event in parser.feed(raw[i : i + step]):
            out.extend(decoder.feed(event))
    for event in parser.flush():
        out.extend(decoder.feed(event))
    out.extend(decoder.close())
    return out
