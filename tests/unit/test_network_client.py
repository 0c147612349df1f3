"""The upstream client on real networks (issue 17): IPv6, connection limits, cancellation at every
point, redirects, against real loopback servers (asyncio servers writing exact bytes)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from turnout.core.catalog.network import Network
from turnout.core.upstream.dispatch import Dispatcher
from turnout.core.upstream.http import HTTPClient, PoolTimeout
from turnout.core.upstream.transport import Pooling, Transport
from turnout.model.chat import ChatRequest, Message
from turnout.model.errors import ErrorKind, UpstreamError
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.registry import http_adapters

ANSWER = b'{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


@dataclass
class Upstream:
    """A loopback server that counts its connections; `behave` answers each request."""

    behave: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    accepted: int = 0
    open: int = 0
    peak: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                self.requests.append(await read_request(reader))
                await self.behave(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def answer_after(seconds: float, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(seconds)
    writer.write(OK)
    await writer.drain()


async def started(up: Upstream, host: str = "127.0.0.1") -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(up.handle, host, 0)
    port = server.sockets[0].getsockname()[1]
    name = f"[{host}]" if ":" in host else host
    return server, f"http://{name}:{port}/v1/chat/completions"


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def one(client: HTTPClient, url: str, network: Network | None = None) -> int:
    r = await client.request("POST", url, {"authorization": "Bearer k"}, b"{}", **({"network": network} if network else {}))
    await r.read()
    r.release()
    return r.status


# --- IPv6 ------------------------------------------------------------------------------------------

def test_an_ipv6_literal_upstream_gets_a_bracketed_host_header() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0, w))
        server, url = await started(up, "::1")
        client = HTTPClient(2, 2)
        try:
            assert await one(client, url) == 200
            port = url.split("]:")[1].split("/")[0]
            assert f"\r\nHost: [::1]:{port}\r\n".encode() in up.requests[0]  # not "Host: ::1:PORT"
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


# --- connection limits -----------------------------------------------------------------------------

def test_500_concurrent_requests_open_at_most_the_default_limit() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0.01, w))
        server, url = await started(up)
        client = HTTPClient(5, 10)  # the defaults: 100 connections, 32 idle
        try:
            statuses = await asyncio.gather(*(one(client, url) for _ in range(500)))
            assert statuses == [200] * 500
            assert 1 < up.accepted <= 100 and up.peak <= 100, (up.accepted, up.peak)
            # After the burst at most the idle cap stays open; the rest were closed, not kept.
            await until(lambda: up.open <= 32)
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_providers_max_connections_caps_its_own_pool() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0.005, w))
        server, url = await started(up)
        client = HTTPClient(5, 10)
        try:
            statuses = await asyncio.gather(*(one(client, url, Network(max_connections=3)) for _ in range(60)))
            assert statuses == [200] * 60 and up.accepted <= 3 and up.peak <= 3
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_waiting_for_a_free_connection_is_bounded_and_says_so() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(1.0, w))
        server, url = await started(up)
        client = HTTPClient(5, 10, max_connections=1, pool_timeout=0.2)
        try:
            first = asyncio.ensure_future(one(client, url))
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            with pytest.raises(PoolTimeout) as waited:
                await one(client, url)
            assert 0.15 < time.monotonic() - t0 < 0.9
            assert "max_connections 1" in str(waited.value) and "127.0.0.1" not in str(waited.value)
            assert await first == 200 and up.accepted == 1
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_freed_connection_goes_to_the_waiting_request() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0.05, w))
        server, url = await started(up)
        client = HTTPClient(5, 10, max_connections=1, pool_timeout=5)
        try:
            assert await asyncio.gather(*(one(client, url) for _ in range(5))) == [200] * 5
            assert up.accepted == 1  # one connection, handed from request to request
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_idle_connections_expire_after_the_idle_timeout() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0, w))
        server, url = await started(up)
        client = HTTPClient(5, 10, idle_timeout=0.2)
        try:
            assert await one(client, url) == 200
            assert await one(client, url) == 200 and up.accepted == 1  # reused while fresh
            await asyncio.sleep(0.3)
            assert await one(client, url) == 200 and up.accepted == 2  # the stale one was dropped
            await until(lambda: up.open == 1)
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


# --- cancellation ----------------------------------------------------------------------------------

def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def target(url: str) -> Target:
    return Target(provider="p", provider_name="P", dialect="openai", upstream_model="m", base_url=url.rsplit("/", 2)[0],
                  api_key="sk-upstream")


@pytest.mark.slow
def test_1000_requests_cancelled_at_every_point_leave_no_socket_open() -> None:
    """Connecting (a TLS handshake that never completes), before the headers, mid-body and
    mid-stream: every socket is closed, in the gateway's process and at the upstream."""

    async def stall(reader: asyncio.StreamReader) -> None:  # until the client hangs up
        assert await reader.read(1) == b""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stall(reader)

    async def half_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        await stall(reader)

    async def half_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        await stall(reader)

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # accepts, never speaks TLS
        try:
            await reader.read()
        finally:
            writer.close()

    async def main() -> None:
        ups = {"headers": Upstream(silent), "body": Upstream(half_body), "stream": Upstream(half_stream)}
        servers, urls = [], {}
        for name, up in ups.items():
            server, urls[name] = await started(up)
            servers.append(server)
        mute_server = await asyncio.start_server(mute, "127.0.0.1", 0)
        urls["connect"] = f"https://127.0.0.1:{mute_server.sockets[0].getsockname()[1]}/v1/chat/completions"
        transport = Transport(5, 30)
        dispatcher = Dispatcher(http_adapters(), {}, transport, keepalive_interval=10, read_timeout=30)
        request = ChatRequest(model="m", messages=[Message(role="user", content="hi")], stream=True)

        async def fetch(url: str) -> None:
            up = UpstreamRequest("POST", url, {"authorization": "Bearer k"}, b"{}", False)
            await transport.fetch(up, target(url))

        async def stream(url: str) -> None:
            endpoint = SimpleNamespace(target=target(url))
            events = dispatcher._stream_one(request, endpoint, [])  # type: ignore[arg-type]
            try:
                async for _ in events:
                    pass
            finally:
                await events.aclose()

        async def cancelled(point: str) -> None:
            task = asyncio.ensure_future(stream(urls[point]) if point == "stream" else fetch(urls[point]))
            await asyncio.sleep(0.002 if point == "connect" else 0.02)
            assert not task.done(), point  # still waiting where we meant to cut it
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        try:
            for point in ("connect", "headers", "body", "stream"):  # warm up: lazy imports, pools
                await cancelled(point)
            await until(lambda: all(up.open == 0 for up in ups.values()))
            before = fds()
            for i in range(1000):
                await cancelled(("connect", "headers", "body", "stream")[i % 4])
            await until(lambda: all(up.open == 0 for up in ups.values()))  # the upstream saw every close
            await until(lambda: fds() <= before)  # and none is left in this process
            assert sum(up.accepted for up in ups.values()) >= 750
        finally:
            await transport.close()
            for server in (*servers, mute_server):
                server.close()

    asyncio.run(main())


# --- redirects -------------------------------------------------------------------------------------

def test_a_redirect_is_an_error_naming_the_location_and_is_never_followed() -> None:
    async def main() -> None:
        elsewhere = Upstream(lambda r, w: answer_after(0, w))
        other, other_url = await started(elsewhere)
        location = other_url.replace("http://", "http://admin:hunter2@") + "?key=sk-stolen"

        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location.encode())
            await writer.drain()

        up = Upstream(redirect)
        server, url = await started(up)
        transport = Transport(2, 2)
        try:
            for stream in (False, True):
                req = UpstreamRequest("POST", url, {"authorization": "Bearer sk-provider-key"}, b"{}", stream)
                with pytest.raises(UpstreamError) as failed:
                    await transport.open(req, target(url))
                message = str(failed.value)
                assert failed.value.kind is ErrorKind.PROVIDER_BAD_RESPONSE and "307" in message
                assert other_url.split("?")[0] in message and "redirects are not followed" in message
                for leak in ("admin", "hunter2", "sk-stolen"):
                    assert leak not in message
            assert elsewhere.accepted == 0  # the key never went there
        finally:
            await transport.close()
            server.close()
            other.close()

    asyncio.run(main())


def test_idle_connections_past_the_timeout_are_closed_without_new_requests() -> None:
    async def main() -> None:
        up = Upstream(lambda r, w: answer_after(0, w))
        server, url = await started(up)
        transport = Transport(2, 2, pools=Pooling(idle_timeout=0.2))
        await transport.start()
        try:
            req = UpstreamRequest("POST", url, {}, b"{}", False)
            status, _, _ = await transport.fetch(req, target(url))
            assert status == 200 and up.open == 1  # kept idle
            await until(lambda: up.open == 0, 2.0)  # the sweeper closed it; no request needed
        finally:
            await transport.close()
            server.close()

    asyncio.run(main())
