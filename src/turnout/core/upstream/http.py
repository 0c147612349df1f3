"""A small HTTP/1.1 client for upstream calls: pooled keep-alive connections, streamed bodies.

turnout sends one kind of request (a POST with a JSON body, maybe a streamed answer) to a few
hosts, so this client does only that, on asyncio protocols with `httptools`' C parser. In
bench/'s profile aiohttp's general-purpose client was over a third of the gateway's CPU per
request; this one is a small fraction of it. What it does:

- one pool per (scheme, host, port, provider network): at most `max_connections` open at once
  (a request waits a bounded `pool_timeout` for a free one), at most `max_idle` kept idle, most
  recently used first, each for `idle_timeout`; TLS through the standard `ssl` module, with SNI
  and certificate checks, a provider's own CA and client certificate (core/catalog/network.py);
- forward proxies: a CONNECT tunnel for https, absolute-form requests for http, with
  `Proxy-Authorization`; IPv6 literals (`Host: [::1]:8000`);
- a caller cancelled at any point (connecting, tunnelling, before the headers, mid-body) closes
  the connection, so no socket outlives its request and the upstream sees it go;
- `Content-Length` and chunked answers (httptools decodes chunking), gzip/deflate bodies;
- a request sent on a reused connection that the server had already closed is sent once more on
  a fresh connection, but only when no byte of an answer came back (the request was never read);
- a connection is pooled only after its answer's body ended, and reading again (an answer can end
  in the read that paused reading); a body let go before its end (a stream after its finish event)
  has its tail dropped as it comes, and costs the connection if that tail is long or late;
- read timeouts per wait (headers, each body read), a connect timeout, back-pressure on big bodies;
- bounds on what an upstream can make it hold (`Limits`): the header count and size, the bytes
  of status line, headers, chunk framing or trailers between two body bytes, and the body:
  an answer and an error body separately, counted after decompression. A compressed body is
  inflated lazily, a bounded piece per read, so a gzip bomb never sits in memory inflated.

Errors are `HTTPError` (connection refused, reset, cut body), its `LimitExceeded` (names the
limit), `TLSError` (a certificate or handshake failure, with the reason), `PoolTimeout` (no free
connection in time) and `ReadTimeout`; nothing else leaves this module. Redirects are never
followed: a 3xx is an answer like any other (core/upstream/transport.py refuses it). An error's text never names the
host, address or port (clients see it); `detail` does, for logs and admins. The module never
logs request or response bodies, or headers (they carry keys).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from turnout.core.catalog.network import DEFAULT, Network, Proxy, ProxyEnvironment, resolve_proxy

IDLE_SECONDS = 30.0
MAX_CONNECTIONS = 100  # per pool, unless the provider says otherwise
MAX_IDLE = 32  # idle connections kept per pool
TUNNEL_HEAD_BYTES = 16 << 10  # most bytes of a proxy's answer to CONNECT
HIGH_WATER = 1 << 20  # pause reading from the upstream when this much is buffered and unread
INFLATE_PIECE = 256 << 10  # most bytes one read inflates from a compressed body
UNBOUNDED = sys.maxsize


@dataclass(frozen=True, slots=True)
class Limits:
    """What one answer may make the client hold; the names are the settings that set them."""

    answer_bytes: int = 64 << 20  # upstream_max_answer_bytes: a whole (non-streamed) answer's body
    error_bytes: int = 1 << 20  # upstream_max_error_bytes: an error answer's body (status >= 400)
    headers: int = 256  # upstream_max_headers: header lines (trailers count too)
    header_bytes: int = 64 << 10  # upstream_max_header_bytes: headers in all; also any run of non-body bytes


class HTTPError(Exception):
    """The exchange failed: could not connect, the connection broke, or the answer was malformed.

    `str()` is safe to show a client; `detail` may name the host and address (logs, admins)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


class ConnectError(HTTPError):
    pass


class LimitExceeded(HTTPError):
    """The answer broke one of `Limits`; `setting` names it."""

    def __init__(self, what: str, setting: str, limit: int, unit: str = "bytes") -> None:
        super().__init__(f"{what} exceeded {setting} ({limit} {unit})")
        self.setting = setting
        self.limit = limit


class _Stop(Exception):
    """Raised in a parser callback to stop parsing; the response already holds its error."""


class ReadTimeout(HTTPError, TimeoutError):
    pass


class TLSError(ConnectError):
    """The TLS handshake failed (an untrusted or mismatched certificate, a refused client
    certificate); the message says why, naming no host."""


class PoolTimeout(HTTPError):
    """Every connection the pool may open was busy for the whole `pool_timeout`."""


class ProxyError(ConnectError):
    """The proxy refused the tunnel or the request (its status is in the message)."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; carries one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: Limits, pool: Pool) -> None:
        self.loop = loop
        self.limits = limits
        self.pool = pool
        self.counted = False  # holds one of the pool's `max_connections` slots until it closes (set once open)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._header_name = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        r = self.response
        if r is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        r._got_bytes = True
        chunks = len(r._chunks)  # nothing reads them while this runs
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            r._fail(HTTPError("unexpected protocol upgrade"))
            self.close()
            return
        except httptools.HttpParserError as exc:
            r._fail(HTTPError(f"malformed HTTP answer: {exc}"))  # a no-op after a limit's error
            self.close()
            return
        # httptools keeps a header line (or a trailer) it has not seen the end of: bound the bytes
        # that arrive with no body byte among them, or an endless header is held whole.
        if len(r._chunks) != chunks:
            r._gap = 0
        else:
            r._gap += len(data)
            if r._gap > self.limits.header_bytes and not r._complete:
                r._fail(LimitExceeded("the answer's headers", "upstream_max_header_bytes", self.limits.header_bytes))
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._free_slot()
        r = self.response
        if r is not None and not r._complete:
            delimited = "content-length" in r.headers or "chunked" in r.headers.get("transfer-encoding", "").lower()
            if isinstance(exc, ssl.SSLError):
                r._fail(TLSError(_why(exc)))
            elif self.pool.ssl is not None and not self.reused and not r._got_bytes:
                # TLS 1.3 checks a client certificate after the handshake: a server that refuses
                # it closes the new connection at once, and asyncio drops its alert.
                r._fail(TLSError("TLS: the server closed the connection right after the handshake (does it "
                                 "require a client certificate? see tls.client_cert)"))
            elif r.status and not delimited:
                r._finish(False)  # an answer with no length ends with its connection (RFC 9112 6.3)
            else:
                r._fail(HTTPError("the connection closed before the answer was complete"))

    def _free_slot(self) -> None:
        if self.counted:
            self.counted = False
            self.pool._lost()

    def pause_writing(self) -> None:  # a request body never gets that big; nothing to do
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        r = self.response
        assert r is not None
        r.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        r._header_count += 1
        r._header_size += len(name) + len(value) + 4
        limits = self.limits
        if r._header_count > limits.headers:
            r._fail(LimitExceeded("the answer's header count", "upstream_max_headers", limits.headers, "headers"))
            raise _Stop
        if r._header_size > limits.header_bytes:
            r._fail(LimitExceeded("the answer's headers", "upstream_max_header_bytes", limits.header_bytes))
            raise _Stop

    def on_headers_complete(self) -> None:
        assert self.response is not None
        if not self.response._headers_done(self.parser.get_status_code()):
            raise _Stop

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response._feed(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        self.response._finish(self.parser.should_keep_alive())

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._free_slot()


class Response:
    """An answer whose status and headers are in; the body is read with `read()` or `readany()`."""

    def __init__(self, conn: _Connection, pool: Pool, read_timeout: float, stream: bool = False) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._conn = conn
        self._pool = pool
        self._read_timeout = read_timeout
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._keep_alive = False
        self._error: HTTPError | None = None
        self._waiter: asyncio.Future[bool] | None = None
        self._headers_ready: asyncio.Future[None] = conn.loop.create_future()
        self._got_bytes = False
        self._released = False
        self._unfinished: asyncio.TimerHandle | None = None  # closes a released answer whose tail never ends
        self._decoder: zlib._Decompress | None = None
        self._stream = stream  # a streamed answer has no total bound (its events are bounded)
        self._limit = UNBOUNDED  # body bytes (inflated) allowed; set with the status
        self._setting = ""  # the limit's name
        self._received = 0  # body bytes (inflated) handed out
        self._header_count = 0
        self._header_size = 0
        self._gap = 0  # bytes received since the last body byte (headers, chunk framing, trailers)
        self._metered = False  # the body is inflated or counted: False for a plain stream, the fast path

    # fed by the connection
    def _headers_done(self, status: int) -> bool:
        """Take the status; False when the answer is already known to be too big."""
        self.status = status
        limits = self._conn.limits
        if status >= 400:
            self._limit, self._setting = limits.error_bytes, "upstream_max_error_bytes"
        elif not self._stream:
            self._limit, self._setting = limits.answer_bytes, "upstream_max_answer_bytes"
        length = self.headers.get("content-length")
        if length is not None and self._limit != UNBOUNDED and length.isdigit() and int(length) > self._limit:
            self._fail(self._too_big())
            return False
        if self.headers.get("content-encoding", "").lower() in ("gzip", "deflate", "x-gzip"):
            self._decoder = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
        self._metered = self._decoder is not None or self._limit != UNBOUNDED
        if not self._headers_ready.done():
            self._headers_ready.set_result(None)
        return True

    def _too_big(self) -> LimitExceeded:
        what = "the error body" if self.status >= 400 else "the answer"
        return LimitExceeded(what, self._setting, self._limit)

    def _feed(self, data: bytes) -> None:
        if data:
            if self._released:  # the rest of a body let go before its end: nobody will read it
                return  # (nor is it counted as a body byte: past `header_bytes` of it, the
                # connection's byte-gap bound in `data_received` closes the connection)
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > HIGH_WATER and self._conn.transport is not None:
                self._conn.transport.pause_reading()
        self._wake()

    def _finish(self, keep_alive: bool) -> None:
        self._complete = True
        self._keep_alive = keep_alive
        self._wake()
        if self._released:
            if self._unfinished is not None:
                self._unfinished.cancel()
            self._give_back()

    def _fail(self, error: HTTPError) -> None:
        if self._error is None and not self._complete:
            self._error = error
        if self._unfinished is not None:  # a released answer's tail failed: its connection is closing
            self._unfinished.cancel()
        if not self._headers_ready.done():
            self._headers_ready.set_exception(error)
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(False)

    # used by the caller
    async def _wait_headers(self) -> None:
        ready = self._headers_ready
        if ready.done():
            ready.result()
            return
        # A plain timer rather than `asyncio.timeout`: no scope object, no cancel and uncancel.
        timer = self._conn.loop.call_later(self._read_timeout, self._headers_late)
        try:
            await ready
        finally:
            timer.cancel()

    def _headers_late(self) -> None:
        if not self._headers_ready.done():
            self._headers_ready.set_exception(ReadTimeout("no answer from the upstream in time"))
            self.close()

    async def readany(self, wait: float | None = None) -> bytes | None:
        """The next piece of the body, b"" at its end.

        With `wait`, None when nothing came for that long (the caller keeps the stream alive and
        asks again); without it, `ReadTimeout` after the read timeout. A timer is armed only when
        nothing is buffered, with `call_later` rather than a cancelling timeout scope: a stream
        of many small chunks pays for no timers at all while they arrive faster than it reads.
        A body bigger than its limit raises `LimitExceeded` and closes the connection.
        """
        while True:
            if self._chunks:
                data = self._chunks.popleft()
                self._buffered -= len(data)
                if self._buffered <= HIGH_WATER // 2 and self._conn.transport is not None and not self._complete:
                    self._conn.transport.resume_reading()
                if not self._metered:
                    return data
            elif self._error is not None:
                raise self._error
            elif self._complete:
                if self._decoder is None:
                    return b""
                data = b""  # the inflater's last bytes
            elif await self._arrival(wait):
                continue
            else:
                return None
            if self._decoder is not None:
                data = self._inflate(data)
                if not data and self._decoder is not None:
                    continue  # a gzip header, or input that inflates to nothing yet
            self._received += len(data)
            if self._received > self._limit:
                error = self._error = self._too_big()
                self.close()
                raise error
            return data

    async def _arrival(self, wait: float | None) -> bool:
        """Wait for bytes, the end or an error: False after `wait` seconds of silence."""
        loop = self._conn.loop
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(self._read_timeout if wait is None else wait, _expire, waiter)
        try:
            expired = await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if expired and not self._chunks and self._error is None and not self._complete:
            if wait is not None:
                return False
            self.close()
            raise ReadTimeout("the upstream went silent")
        return True

    def _inflate(self, data: bytes) -> bytes:
        """At most `INFLATE_PIECE` inflated bytes; unread input goes back to the front of the queue."""
        decoder = self._decoder
        assert decoder is not None
        try:
            if not data:  # the body's end
                self._decoder = None
                return decoder.flush()
            out = decoder.decompress(data, INFLATE_PIECE)
        except zlib.error:
            self._error = HTTPError("the answer's compressed body is corrupt")
            self.close()
            raise self._error from None
        tail = decoder.unconsumed_tail
        if tail:
            self._chunks.appendleft(tail)
            self._buffered += len(tail)
        return out

    @property
    def complete(self) -> bool:
        """The whole body has arrived (it may not all have been read yet)."""
        return self._complete

    async def read(self) -> bytes:
        parts = []
        try:
            while chunk := await self.readany():
                parts.append(chunk)
        except BaseException:
            parts.clear()  # the traceback keeps this frame alive, and it must not keep the body too
            raise
        return b"".join(parts)

    def release(self) -> None:
        """Done with this answer: its connection goes back to the pool once the body is complete."""
        if self._released:
            return
        self._released = True
        if self._complete:
            self._give_back()
        elif self._error is not None:
            self._conn.close()
        else:  # the body's tail still arriving (a stream's last bytes after its finish event):
            # dropped as it comes, and `_finish` gives the connection back; a tail that is long
            # (`_feed`: past `Limits.header_bytes`) or late (the read timeout) costs the connection
            self._chunks.clear()
            self._buffered = 0
            conn = self._conn
            if conn.transport is not None:
                conn.transport.resume_reading()
            self._unfinished = conn.loop.call_later(self._read_timeout, self._late_tail)

    def _late_tail(self) -> None:
        if not self._complete:
            self._conn.close()

    def close(self) -> None:
        """Abandon this answer: the connection is closed (which cancels the upstream's work)."""
        self._released = True
        self._conn.response = None
        self._conn.close()

    def _give_back(self) -> None:
        conn = self._conn
        conn.response = None
        if self._keep_alive and self._error is None and not conn.closed:
            # An answer can end in the very read that paused reading (its last bytes took the
            # buffer past HIGH_WATER): pooled paused, the connection would never read again.
            if conn.transport is not None:
                conn.transport.resume_reading()
            self._pool._put(conn)
        else:
            conn.close()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)


class Pool:
    """The connections to one origin over one provider network: at most `max_connections` open."""

    def __init__(self, client: HTTPClient, scheme: str, host: str, port: int, network: Network) -> None:
        self._client = client
        self.host = host
        self.port = port
        tls = network.tls
        self.ssl: ssl.SSLContext | None = None
        if scheme == "https":
            self.ssl = tls.context() if tls is not None else client.ssl_context
        self.proxy: Proxy | None = resolve_proxy(network, client.proxies, scheme, host, port)
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal (urlsplit took its brackets off)
        self.host_header = name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"
        self.authority = f"{name}:{port}"
        self.max_connections = network.max_connections or client.max_connections
        self.open = 0  # connections open or being opened
        self._idle: list[_Connection] = []  # oldest first
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()

    # slots and hand-overs
    def _put(self, conn: _Connection) -> None:
        """A connection free for the next request: to a waiting request, else idle (within the cap)."""
        conn.reused = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        client = self._client
        now = conn.idle_since = time.monotonic()
        idle = self._idle
        while idle and (len(idle) >= client.max_idle or now - idle[0].idle_since >= client.idle_timeout):
            idle.pop(0).close()
        idle.append(conn)

    def _lost(self) -> None:
        """A connection closed: its slot goes to the first waiting request, which connects anew."""
        self.open -= 1
        while self._waiters and self.open < self.max_connections:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.open += 1
                waiter.set_result(None)
                return

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        idle_timeout = self._client.idle_timeout
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < idle_timeout:
                return conn
            conn.close()
        return None

    def sweep(self, now: float) -> None:
        """Close the idle connections older than the idle timeout (the oldest are first)."""
        idle, timeout = self._idle, self._client.idle_timeout
        while idle and now - idle[0].idle_since >= timeout:
            idle.pop(0).close()

    async def acquire(self) -> _Connection:
        """An idle connection, a new one within the cap, or the first one freed within `pool_timeout`."""
        while True:
            conn = self._take()
            if conn is not None:
                return conn
            if self.open < self.max_connections:
                self.open += 1
                return await self._connect()
            got = await self._wait()
            if got is None:  # a slot, already counted for us
                return await self._connect()
            if not got.closed:
                return got
            # handed a connection that died meanwhile: its slot came back through `_lost`; try again

    async def _wait(self) -> _Connection | None:
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        timeout = self._client.pool_timeout
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():  # handed something just as we left: pass it on
                got = waiter.result()
                if got is None:
                    self._lost()
                else:
                    self._put(got)
            else:
                waiter.cancel()
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(exc, TimeoutError):
                raise PoolTimeout(
                    f"no free connection to the upstream within {timeout:g} s (max_connections {self.max_connections})"
                ) from None
            raise

    async def _connect(self) -> _Connection:
        """A new connection in a slot already counted: the slot is freed on any failure."""
        try:
            conn = await self._open()
        except BaseException:
            self._lost()
            raise
        if conn.closed:  # lost before we got it: the slot was never handed to it
            self._lost()
            raise HTTPError("the connection closed as soon as it opened")
        conn.counted = True  # from now on its close frees the slot
        return conn

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        proxy = self.proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (self.host, self.port)
        where = f"{self.host}:{self.port}" + (f" through the proxy {proxy.host}:{proxy.port}" if proxy else "")
        limits = self._client.limits
        transport: asyncio.BaseTransport | None = None
        conn: _Connection
        try:
            async with asyncio.timeout(self._client.connect_timeout):
                if proxy is not None and self.ssl is not None:
                    transport, tunnel = await loop.create_connection(lambda: _Tunnel(loop), host, port)
                    await tunnel.establish(transport, self.authority.encode("latin-1"), proxy)
                    conn = _Connection(loop, limits, self)
                    transport = await loop.start_tls(transport, conn, self.ssl, server_hostname=self.host)
                    assert transport is not None
                    conn.transport = transport
                    return conn
                transport, conn = await loop.create_connection(
                    lambda: _Connection(loop, limits, self), host, port,
                    ssl=None if proxy is not None else self.ssl,
                    server_hostname=self.host if self.ssl and proxy is None else None,
                )
        except BaseException as exc:
            if transport is not None:
                transport.close()
            if isinstance(exc, HTTPError):
                exc.detail = f"{exc.detail} ({where})"
                raise
            if isinstance(exc, TimeoutError):
                raise ConnectError("connecting timed out", f"connecting to {where} timed out") from None
            if isinstance(exc, ssl.SSLError):
                raise TLSError(_why(exc), f"TLS with {where} failed: {exc}") from None
            if isinstance(exc, OSError):
                raise ConnectError(_why(exc), f"cannot connect to {where}: {exc}") from None
            if isinstance(exc, ValueError):  # e.g. a host name IDNA cannot encode
                raise ConnectError("invalid upstream address", f"cannot connect to {where!r}: {exc}") from None
            raise
        conn.transport = transport  # uvloop may call connection_made only after this returns
        return conn

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(HTTPError("the client is closing"))
        self._waiters.clear()


class _Tunnel(asyncio.Protocol):
    """The CONNECT exchange with a proxy, before TLS starts inside the tunnel."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._head = bytearray()
        self._done: asyncio.Future[bytes] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        if self._done.done():
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(self._head[:end])
            if end + 4 != len(self._head) and head[9:10] == b"2":  # bytes inside a tunnel before TLS began
                self._done.set_exception(ProxyError("the proxy sent data before the tunnel opened"))
            else:
                self._done.set_result(head)  # a refusal's body is not read
        elif len(self._head) > TUNNEL_HEAD_BYTES:
            self._done.set_exception(ProxyError("the proxy's answer to CONNECT is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_exception(ProxyError("the proxy closed the connection during CONNECT"))
            self._done.exception()  # retrieved: nobody may be waiting any more (a cancelled connect)

    async def establish(self, transport: asyncio.BaseTransport, authority: bytes, proxy: Proxy) -> None:
        line = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (authority, authority, proxy.header)
        cast(asyncio.WriteTransport, transport).write(line)  # uvloop's transports are not asyncio's classes
        head = await self._done
        status_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if status in (401, 407):  # 407 is the standard; some proxies (tinyproxy) answer 401
            raise ProxyError(f"the proxy asks for credentials ({status}): set user:password in the proxy URL"
                             if not proxy.authorization else f"the proxy refused its credentials ({status})")
        if not 200 <= status < 300:
            raise ProxyError(f"the proxy refused the tunnel (status {status})")


def _why(exc: OSError) -> str:
    """What went wrong connecting, in words that name no host or address (asyncio's own messages
    do: "Connect call failed ('10.1.2.3', 8000)")."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = str(exc.verify_message or "")
        if "hostname mismatch" in reason.lower() or "ip address mismatch" in reason.lower():
            reason = "the certificate is not valid for the provider's host name"  # the message names the host
        return f"TLS certificate verification failed: {reason or 'untrusted certificate'}"
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or "").replace("_", " ").lower()
        return f"TLS handshake failed: {reason}" if reason else "TLS handshake failed"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, ConnectionRefusedError) or exc.errno == 111:
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError)):
        return "connection reset"
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return "connection failed"


class HTTPClient:
    def __init__(
        self, connect_timeout: float, read_timeout: float, limits: Limits | None = None, *,
        max_connections: int = MAX_CONNECTIONS, max_idle: int = MAX_IDLE, idle_timeout: float = IDLE_SECONDS,
        pool_timeout: float | None = None, environ: dict[str, str] | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limits = limits or Limits()
        self.max_connections = max_connections
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.pool_timeout = connect_timeout if pool_timeout is None else pool_timeout
        self.proxies = ProxyEnvironment(os.environ if environ is None else environ)  # read once
        self.ssl_context = ssl.create_default_context()
        self._pools: dict[tuple[str, str, int, Network], Pool] = {}
        self._heads: dict[tuple[str, Network], tuple[Pool, bytes]] = {}  # (method+url, network) -> (pool, head)

    def _target(self, method: str, url: str, network: Network) -> tuple[Pool, bytes]:
        cached = self._heads.get((method + url, network))
        if cached is not None:
            return cached
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 0
        if parts.scheme not in ("http", "https") or not parts.hostname or not port:
            raise ConnectError("unsupported upstream URL", f"unsupported upstream URL {url!r}")
        key = (parts.scheme, parts.hostname, port, network)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool(self, *key)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy_line = b""
        if pool.proxy is not None and pool.ssl is None:  # plain http through a proxy: absolute form
            path = f"http://{pool.authority}{path}"
            proxy_line = pool.proxy.header
        head = f"{method} {path} HTTP/1.1\r\nHost: {pool.host_header}\r\n".encode("latin-1") + proxy_line
        if len(self._heads) < 10_000:
            self._heads[(method + url, network)] = (pool, head)
        return pool, head

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *,
        read_timeout: float | None = None, stream: bool = False, network: Network = DEFAULT,
    ) -> Response:
        """Send the request; return once the answer's status line and headers are in.

        A `stream` answer's body has no total bound (the caller bounds its events); any other's
        is bounded by `Limits.answer_bytes`, an error's by `Limits.error_bytes`."""
        pool, head = self._target(method, url, network)
        lines = [head]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        lines.append(b"content-length: %d\r\naccept-encoding: gzip, deflate\r\n\r\n" % len(body))
        payload = b"".join(lines) + body
        timeout = self.read_timeout if read_timeout is None else read_timeout
        for _ in range(2):
            conn = pool._take() or await pool.acquire()
            response = Response(conn, pool, timeout, stream)
            conn.response = response
            conn.parser = httptools.HttpResponseParser(conn)
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                await response._wait_headers()
            except ReadTimeout:
                raise
            except asyncio.CancelledError:  # the caller gave up: the upstream must see the socket close
                conn.close()
                raise
            except HTTPError:
                conn.close()
                # A kept-alive connection the server closed meanwhile: it never read the request.
                if conn.reused and not response._got_bytes:
                    continue
                raise
            return response
        raise HTTPError("the upstream closed the connection twice before answering")

    def sweep(self) -> None:
        """Close every idle connection past the idle timeout (run now and then, off the request path)."""
        now = time.monotonic()
        for pool in self._pools.values():
            pool.sweep(now)

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._heads.clear()
