"""A hostile upstream: a raw asyncio socket server on 127.0.0.1 that speaks just enough of the
OpenAI (`/v1/chat/completions`) and Anthropic (`/v1/messages`) wire formats to be believed, then
misbehaves in the way the request's `model` names.

Size attacks (each would send gigabytes; every one stops when the gateway hangs up, after
`CAP_BYTES`, or after `CAP_SECONDS`, whichever comes first):

    huge-error        500, a JSON error body that never ends (chunked)
    huge-error-length 500 announcing a 4 GiB Content-Length
    huge-answer       200, a JSON answer that never ends (chunked)
    gzip-bomb         200, gzip-encoded zeros: kilobytes on the wire, gigabytes inflated
    deflate-bomb      the same with a zlib (Content-Encoding: deflate) wrapper
    many-headers      200, then header lines forever
    long-header       200, then one header whose value never ends
    endless-line      a stream: one good chunk, then a `data:` line that never ends
    endless-event     a stream: one good chunk, then `data:` lines with no blank line, forever
    stream-bomb       a gzip-encoded stream of zeros

Secret echoes (the credential the gateway sent comes back in the error):

    echo-401          401 with the key in the JSON error (message and a field)
    echo-401-text     401, plain text, the key straddling the gateway's 2000-character excerpt

A TLS ClientHello gets a plain HTTP answer (a TLS handshake failure for the client).
    echo-midstream    a stream: one good chunk, then an error event quoting the key

Error bodies a client cannot be shown as they are:

    deep-error        500, a JSON error nested 1000 deep (more than a JSON encoder will write)
    deep-midstream    a stream: one good chunk, then an error event with a 4 MiB message, nested 1000 deep

Anything else gets a normal answer ("ok").
"""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CAP_BYTES = 3 << 30  # no attack writes more than this, decoded
CAP_SECONDS = 60.0
PIECE = 1 << 20


@dataclass
class HostileState:
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"path", "headers", "body"}
    finished: list[str] = field(default_factory=list)  # attacks that stopped, and why


def _key(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    return auth.partition(" ")[2] if auth else headers.get("x-api-key", "")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Attack:
    def __init__(self, writer: asyncio.StreamWriter, state: HostileState, name: str) -> None:
        self.writer = writer
        self.state = state
        self.name = name
        self.sent = 0

    async def send(self, data: bytes, counted: int | None = None) -> bool:
        """Write; False once the gateway hung up or a cap was reached."""
        self.sent += len(data) if counted is None else counted
        if self.sent > CAP_BYTES:
            self.state.finished.append(f"{self.name}: cap")
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.state.finished.append(f"{self.name}: closed by the gateway")
            return False
        return True

    async def forever(self, piece: bytes, counted: int | None = None) -> None:
        try:
            async with asyncio.timeout(CAP_SECONDS):
                while await self.send(piece, counted):
                    pass
        except TimeoutError:
            self.state.finished.append(f"{self.name}: timeout")


def _openai_chunk(text: str) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _anthropic_start() -> bytes:
    start = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
             "content": [], "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in (start, block, delta))


OK_OPENAI = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
OK_ANTHROPIC = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 3, "output_tokens": 1}}

STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED_JSON = b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


async def _attack(name: str, anthropic: bool, key: str, writer: asyncio.StreamWriter, state: HostileState) -> None:
    a = _Attack(writer, state, name)
    first = _anthropic_start() if anthropic else _openai_chunk("Hello")
    if name == "huge-error":
        await a.send(b"HTTP/1.1 500 Internal Server Error\r\n" + CHUNKED_JSON + _chunk(b'{"error": {"message": "'))
        await a.forever(_chunk(b"x" * PIECE))
    elif name == "huge-error-length":
        await a.send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{\"error\": {\"message\": \"" % (4 << 30))
        await a.forever(b"x" * PIECE)
    elif name == "huge-answer":
        await a.send(b"HTTP/1.1 200 OK\r\n" + CHUNKED_JSON + _chunk(b'{"choices": [{"message": {"content": "'))
        await a.forever(_chunk(b"x" * PIECE))
    elif name in ("gzip-bomb", "deflate-bomb", "stream-bomb"):
        encoding, wbits = (b"deflate", 15) if name == "deflate-bomb" else (b"gzip", 31)
        kind = b"text/event-stream" if name == "stream-bomb" else b"application/json"
        compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
        zeros = bytes(16 * PIECE)
        await a.send(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Encoding: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                     % (kind, encoding) + _chunk(compressor.compress(b"data: " if name == "stream-bomb" else b'{"a": "')))
        try:
            async with asyncio.timeout(CAP_SECONDS):
                while await a.send(_chunk(compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)), len(zeros)):
                    pass
        except TimeoutError:
            state.finished.append(f"{name}: timeout")
    elif name == "many-headers":
        await a.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        await a.forever(b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 40) for i in range(PIECE // 64)))
    elif name == "long-header":
        await a.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Long: ")
        await a.forever(b"a" * PIECE)
    elif name == "endless-line":
        await a.send(STREAM_HEAD + _chunk(first + b"data: "))
        await a.forever(_chunk(b"x" * PIECE))
    elif name == "endless-event":
        await a.send(STREAM_HEAD + _chunk(first))
        await a.forever(_chunk(b"data: " + b"x" * 1000 + b"\n") * 1000)
    elif name == "deep-error":
        data = b'{"error": {"message": "deep", "detail": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
        await a.send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(data), data))
    elif name == "deep-midstream":
        err = b'{"error": {"message": "' + b"m" * (4 << 20) + b'", "detail": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
        await a.send(STREAM_HEAD + _chunk(first) + _chunk(b"data: " + err + b"\n\n") + b"0\r\n\r\n")
    elif name == "echo-401":
        if anthropic:
            body: Any = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key: {key}"}}
        else:
            body = {"error": {"message": f"Incorrect API key provided: {key}. You can find your API key at ...",
                              "type": "invalid_request_error", "param": None, "code": "invalid_api_key",
                              "received": {"authorization": f"Bearer {key}", key: "as a field name too"}}}
        data = json.dumps(body).encode()
        await a.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(data), data))
    elif name == "echo-401-text":
        data = b"<html>" + b"." * (1984 - 6) + f" key={key} </html>".encode()  # the key crosses character 2000
        await a.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(data), data))
    elif name == "echo-midstream":
        if anthropic:
            err = {"type": "error", "error": {"type": "overloaded_error", "message": f"Overloaded (key {key})"}}
            tail = b"event: error\ndata: " + json.dumps(err).encode() + b"\n\n"
        else:
            err = {"error": {"message": f"upstream failed for key {key}", "type": "server_error", "key": key}}
            tail = b"data: " + json.dumps(err).encode() + b"\n\n"
        await a.send(STREAM_HEAD + _chunk(first) + _chunk(tail) + b"0\r\n\r\n")
    else:
        data = json.dumps(OK_ANTHROPIC if anthropic else OK_OPENAI).encode()
        await a.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: HostileState) -> None:
    try:
        if (await reader.readexactly(1)) == b"\x16":  # a TLS ClientHello: answer in plain HTTP
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        head = b"P" + await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
        state.requests.append({"path": path, "headers": headers, "body": body})
        await _attack(str(body.get("model")), path.endswith("/messages"), _key(headers), writer, state)
    except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
        pass
    finally:
        writer.close()


@contextmanager
def serve_hostile() -> Iterator[tuple[str, HostileState]]:
    """Run the server on a free loopback port in a thread; yields (base URL, state)."""
    state = HostileState()
    loop = asyncio.new_event_loop()
    port: list[int] = []
    ready = threading.Event()
    stop = asyncio.Event()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await _handle(reader, writer, state)
        finally:
            handlers.discard(task)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await stop.wait()
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the hostile upstream did not start"
    try:
        yield f"http://127.0.0.1:{port[0]}", state
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
