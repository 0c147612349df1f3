"""Fake OpenAI-compatible upstream for the benchmark harness.

This module owns the mock upstream that every target (direct, turnout, LiteLLM,
Portkey) talks to. It is a raw asyncio HTTP/1.1 keep-alive server (uvloop when
installed) that answers ``POST .../chat/completions`` with a realistic
``chat.completion`` JSON body including ``usage``, or with an SSE stream of
``chat.completion.chunk`` frames (a usage chunk when the request asks for
``stream_options.include_usage``) ending with ``data: [DONE]``.

Behaviour is chosen per request by the *upstream model name*, so that gateways
which rewrite model names still select it through their own config:

``mock[-d<ms>][-c<ms>][-n<chunks>]``
    ``-d``: delay before the response starts (holds requests in flight),
    ``-c``: delay between stream chunks, ``-n``: number of content chunks
    (default 64).

Responses are pre-rendered and cached per (model, stream, usage) so the server
spends microseconds per request; the harness measures and prints its ceiling.

Run: ``python bench/upstream.py --port 9001`` (binds 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time
from dataclasses import dataclass
from typing import cast

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"]{1,200})"')
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
_SPEC_RE = re.compile(r"-([dcn])(\d+)")

PROMPT_TOKENS = 24
WORDS = (
    "The quick brown fox jumps over the lazy dog while a gateway forwards "
    "every token without adding measurable delay to the stream of words"
).split()


@dataclass(frozen=True)
class Spec:
    """Per-model behaviour parsed from the upstream model name."""

    delay_s: float
    chunk_delay_s: float
    chunks: int


def parse_spec(model: str) -> Spec:
    """Parse ``mock-d10-c2-n64`` style names; unknown parts are ignored."""
    vals = {"d": 0, "c": 0, "n": 64}
    for key, num in _SPEC_RE.findall(model):
        vals[key] = int(num)
    return Spec(vals["d"] / 1000.0, vals["c"] / 1000.0, max(1, min(vals["n"], 4096)))


def _words(n: int) -> list[str]:
    return [WORDS[i % len(WORDS)] + " " for i in range(n)]


def _chunk(payload: bytes) -> bytes:
    """Wrap bytes as one HTTP/1.1 chunked-transfer chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class Responses:
    """Pre-rendered response bytes, cached by (model, stream, include_usage)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool, bool], tuple[Spec, bytes, list[bytes]]] = {}

    def get(self, model: str, stream: bool, usage: bool) -> tuple[Spec, bytes, list[bytes]]:
        key = (model, stream, usage)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 1000:
                self._cache.clear()
            hit = self._render(model, stream, usage)
            self._cache[key] = hit
        return hit

    def _render(self, model: str, stream: bool, usage: bool) -> tuple[Spec, bytes, list[bytes]]:
        spec = parse_spec(model)
        words = _words(spec.chunks)
        created = int(time.time())
        cid = "chatcmpl-bench0000000000000000000000"
        usage_obj = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": spec.chunks,
            "total_tokens": PROMPT_TOKENS + spec.chunks,
        }
        if not stream:
            body = json.dumps(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_bench",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(words).strip()},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage_obj,
                },
                separators=(",", ":"),
            ).encode()
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)
            )
            return spec, head + body, []
        base = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_bench",
        }
        frames: list[bytes] = []

        def choice(delta: dict[str, object], finish: str | None) -> dict[str, object]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

        extra: dict[str, object] = {"usage": None} if usage else {}
        frames.append(_sse({**base, "choices": [choice({"role": "assistant", "content": ""}, None)], **extra}))
        for w in words:
            frames.append(_sse({**base, "choices": [choice({"content": w}, None)], **extra}))
        frames.append(_sse({**base, "choices": [choice({}, "stop")], **extra}))
        if usage:
            frames.append(_sse({**base, "choices": [], "usage": usage_obj}))
        frames.append(b"data: [DONE]\n\n")
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        )
        # first element: headers; the rest: HTTP chunks; terminator appended by the writer
        return spec, head, [_chunk(f) for f in frames]


_MODELS_BODY = json.dumps(
    {"object": "list", "data": [{"id": "mock", "object": "model", "created": 0, "owned_by": "bench"}]}
).encode()
_MODELS_RESP = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_MODELS_BODY)
    + _MODELS_BODY
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered strictly in order."""

    responses = Responses()

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        while not self.busy and not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    transport.write(_BAD)
                    transport.close()
                return
            head = bytes(self.buf[:end]).lower()
            body_start = end + 4
            clen = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                if line.startswith(b"content-length:"):
                    clen = int(line[15:].strip() or b"0")
                elif line.startswith(b"transfer-encoding:") and b"chunked" in line:
                    chunked = True
            if chunked:
                parsed = _dechunk(self.buf, body_start)
                if parsed is None:
                    return
                body, consumed = parsed
            else:
                if len(self.buf) < body_start + clen:
                    return
                body = bytes(self.buf[body_start : body_start + clen])
                consumed = body_start + clen
            del self.buf[:consumed]
            keep_alive = b"connection: close" not in head
            self._respond(head, body, keep_alive)

    def _respond(self, head: bytes, body: bytes, keep_alive: bool) -> None:
        transport = self.transport
        assert transport is not None
        line = head.split(b"\r\n", 1)[0]
        parts = line.split(b" ")
        method = parts[0] if parts else b""
        path = parts[1] if len(parts) > 1 else b""
        if method == b"post" and path.endswith(b"/chat/completions"):
            m = _MODEL_RE.search(body)
            model = m.group(1).decode() if m else "mock"
            stream = _STREAM_RE.search(body) is not None
            usage = _USAGE_RE.search(body) is not None
            spec, first, chunks = self.responses.get(model, stream, usage)
            if spec.delay_s > 0 or (stream and spec.chunk_delay_s > 0):
                self.busy = True
                asyncio.get_running_loop().create_task(self._slow(spec, first, chunks, keep_alive))
                return
            if chunks:
                transport.write(first + b"".join(chunks) + b"0\r\n\r\n")
            else:
                transport.write(first)
        elif method == b"get" and (path.endswith(b"/models") or path.endswith(b"/health")):
            transport.write(_MODELS_RESP)
        else:
            transport.write(_NOT_FOUND)
        if not keep_alive:
            transport.close()

    async def _slow(self, spec: Spec, first: bytes, chunks: list[bytes], keep_alive: bool) -> None:
        transport = self.transport
        assert transport is not None
        try:
            if spec.delay_s > 0:
                await asyncio.sleep(spec.delay_s)
            if self.closed:
                return
            if not chunks:
                transport.write(first)
            elif spec.chunk_delay_s <= 0:
                transport.write(first + b"".join(chunks) + b"0\r\n\r\n")
            else:
                transport.write(first + chunks[0])
                for c in chunks[1:]:
                    await asyncio.sleep(spec.chunk_delay_s)
                    if self.closed:
                        return
                    transport.write(c)
                transport.write(b"0\r\n\r\n")
            if not keep_alive:
                transport.close()
                return
        finally:
            self.busy = False
        if self.buf and not self.closed:
            self._process()


def _dechunk(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked request body; None when incomplete."""
    out = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            return bytes(out), end + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"upstream listening on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9001)
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the bench upstream only binds loopback")
    import gc

    gc.freeze()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
