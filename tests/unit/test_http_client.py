"""The upstream HTTP client against raw loopback servers that write exact bytes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from turnout.core.http import ConnectError, HTTPClient, HTTPError, ReadTimeout

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


async def with_server(handler: Handler, body: Callable[[str], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await body(f"http://127.0.0.1:{port}/v1/chat")
    finally:
        server.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection_and_sends_exact_request() -> None:
    connections = []
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        while True:
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
            await writer.drain()

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        for _ in range(3):
            r = await client.request("POST", url, {"authorization": "Bearer k"}, b'{"x":1}')
            assert r.status == 200 and r.headers["content-type"] == "application/json"
            assert await r.read() == b'{"a":1}'
            r.release()
        await client.close()

    run(with_server(handler, body))
    assert len(connections) == 1 and len(seen) == 3
    assert seen[0].startswith(b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"authorization: Bearer k\r\n" in seen[0] and seen[0].endswith(b'\r\n\r\n{"x":1}')


def test_chunked_stream_arrives_piece_by_piece_and_u2028_is_untouched() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"data: a\xe2\x80\xa8b\n\n", b"data: [DONE]\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        r = await client.request("POST", url, {}, b"{}")
        pieces = []
        while chunk := await r.readany():
            pieces.append(chunk)
        assert b"".join(pieces) == b"data: a\xe2\x80\xa8b\n\ndata: [DONE]\n\n" and len(pieces) == 2
        r.release()
        await client.close()

    run(with_server(handler, body))


def test_gzip_body_and_close_delimited_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        payload = gzip.compress(b'{"ok": true}')
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n" + payload)
        await writer.drain()
        writer.close()

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        r = await client.request("POST", url, {}, b"{}")
        assert await r.read() == b'{"ok": true}'
        r.release()
        await client.close()

    run(with_server(handler, body))


def test_cut_body_is_an_error_not_a_short_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        r = await client.request("POST", url, {}, b"{}")
        with pytest.raises(HTTPError):
            await r.read()
        await client.close()

    run(with_server(handler, body))


def test_stale_pooled_connection_is_retried_once_on_a_fresh_one() -> None:
    requests = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive promised, connection closed anyway

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        for _ in range(2):
            r = await client.request("POST", url, {}, b"{}")
            assert await r.read() == b"ok"
            r.release()
            await asyncio.sleep(0.05)
        await client.close()

    run(with_server(handler, body))
    assert len(requests) == 2


def test_read_timeout_and_connect_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def body(url: str) -> None:
        client = HTTPClient(2, 0.2)
        with pytest.raises(ReadTimeout):
            await client.request("POST", url, {}, b"{}")
        with pytest.raises(ConnectError):
            await client.request("POST", "http://127.0.0.1:1/x", {}, b"{}")
        with pytest.raises(ConnectError):
            await client.request("POST", "ftp://example/x", {}, b"{}")
        await client.close()

    run(with_server(handler, body))


def test_readany_with_a_wait_returns_none_on_silence_and_keeps_the_stream() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.write(b"5\r\nhello\r\n0\r\n\r\n")
        await writer.drain()

    async def body(url: str) -> None:
        client = HTTPClient(2, 2)
        r = await client.request("POST", url, {}, b"{}")
        silences = 0
        while (chunk := await r.readany(0.1)) is None:
            silences += 1
        assert chunk == b"hello" and silences >= 2
        assert await r.readany(0.1) == b"" and r.complete
        r.release()
        await client.close()

    run(with_server(handler, body))
