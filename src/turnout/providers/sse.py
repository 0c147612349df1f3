"""Server-sent events parsing: upstream bytes -> `SSEEvent`s, incrementally, in linear time.

Lines end at CR, LF or CRLF and nowhere else (the SSE spec). `str.splitlines()` and httpx's
`aiter_lines()` also split on U+2028, U+0085 and friends, which may appear unescaped inside JSON
strings, so this parser works on bytes. Comment lines (starting with ':') are dropped.

An upstream decides how long a line or an event is, so both are bounded (`max_line`,
`max_event`; `SSELimitExceeded` names the setting). Each byte is scanned once: the unfinished
end of a chunk is kept as a list of pieces and joined once, when its line ends, rather than
copied into every later chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE = 16 << 20
MAX_EVENT = 16 << 20


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSELimitExceeded(ValueError):
    """A line or an event is longer than its limit; `setting` names the limit."""

    def __init__(self, what: str, setting: str, limit: int) -> None:
        super().__init__(f"{what} exceeded {setting} ({limit} bytes)")
        self.setting = setting
        self.limit = limit


class SSEParser:
    __slots__ = ("_data", "_data_size", "_event", "_id", "_max_event", "_max_line", "_parts", "_parts_size",
                 "_pending_cr")

    def __init__(self, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self._parts: list[bytes] = []  # the current line's bytes from earlier chunks
        self._parts_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False
        self._max_line = max_line
        self._max_event = max_event

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume a chunk of bytes; return the events it completed."""
        start = 0
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                start = 1  # the LF of a CRLF split across chunks
        events: list[SSEEvent] = []
        n = len(chunk)
        lf = cr = -1  # the next LF / CR at or after `start`, n when there is none: each found once
        while start < n:
            if lf < start:
                lf = chunk.find(b"\n", start)
                if lf < 0:
                    lf = n
            if cr < start:
                cr = chunk.find(b"\r", start)
                if cr < 0:
                    cr = n
            end = lf if lf < cr else cr
            if end == n:
                break
            nxt = end + 1
            if end == cr:
                if nxt == n:
                    self._pending_cr = True
                elif chunk[nxt] == 0x0A:
                    nxt += 1
            if self._parts:
                if self._parts_size + end - start > self._max_line:
                    raise self._line_too_long()
                self._parts.append(chunk[start:end])
                line = b"".join(self._parts)
                self._parts.clear()
                self._parts_size = 0
            else:
                if end - start > self._max_line:
                    raise self._line_too_long()
                line = chunk[start:end]
            self._line(line, events)
            start = nxt
        if start < n:
            self._parts_size += n - start
            if self._parts_size > self._max_line:
                raise self._line_too_long()
            self._parts.append(chunk[start:] if start else chunk)
        return events

    def flush(self) -> list[SSEEvent]:
        """The stream ended: a last event without its blank line still counts."""
        events: list[SSEEvent] = []
        if self._parts:
            line = b"".join(self._parts)
            self._parts.clear()
            self._parts_size = 0
            self._line(line, events)
        self._line(b"", events)
        return events

    def _line_too_long(self) -> SSELimitExceeded:
        return SSELimitExceeded("an event-stream line", "upstream_max_sse_line_bytes", self._max_line)

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data = []
            self._data_size = 0
            self._event = None
            return
        if raw[0] == 0x3A:  # ':' comment, e.g. ": OPENROUTER PROCESSING"
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_size += len(raw)
            if self._data_size > self._max_event:
                raise SSELimitExceeded("an event-stream event", "upstream_max_sse_event_bytes", self._max_event)
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
