"""The HTTP/1.1 front door: uvicorn's httptools protocol with the bounds it lacks.

uvicorn (0.3x to 0.54, httptools) accepts request headers of any size and count, waits forever for
headers and bodies, and arms its keep-alive timer only after a first answer, so a connection that
sends nothing, or a byte at a time, holds a file descriptor for good. `GuardedProtocol` adds, per
process and per connection (docs/security.md, "Request limits"):

- `max_connections`: past it a new connection is answered 503 and closed at once;
- `max_header_bytes` and `max_headers`: 431 as soon as either is passed, counted on the raw bytes
  while headers are incomplete, so httptools never holds more than one read past the limit;
- `header_timeout` (from the connection, or from a request's first byte, to complete headers) and
  `body_timeout` plus a second per `body_min_rate` bytes received: 408 and close;
- `idle_timeout` between requests, and `send_timeout` for a client that takes none of its answer;
- after an early answer (a 401 or 413 before the body was read) the rest of the body is discarded
  only up to `max_body_bytes`, and within the body deadline.

No request arms a timer of its own: one sweep per server, a few times a second, compares each
connection's phase and the loop time it began. It replaces uvicorn's per-answer keep-alive timer.
"""

from __future__ import annotations

import asyncio
import http
import logging
import resource
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from turnout.settings import Settings

log = logging.getLogger("turnout")

HEADERS, BODY, BUSY, IDLE = 0, 1, 2, 3  # what the connection waits for: the client, the client, us, the client


class Refusal(Exception):
    """Raised inside a parser callback to stop parsing and answer `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reply(status: int, message: str) -> bytes:
    """A whole answer, in OpenRouter's error envelope, that closes the connection."""
    body = orjson.dumps({"error": {"code": status, "message": message, "metadata": None}})
    phrase = http.HTTPStatus(status).phrase.encode()
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return head % (status, phrase, len(body)) + body


def app_settings(app: Any) -> Settings | None:
    """The settings of a turnout app (TurnoutApp.settings, under any middleware); None for another app."""
    for _ in range(8):
        candidate = getattr(app, "settings", None)
        if isinstance(candidate, Settings):
            return candidate
        app = getattr(app, "app", None)
    return None


def settings_of(config: Config) -> Settings:
    """The app's settings (TurnoutApp.settings, under uvicorn's middleware), once per server."""
    found: Settings | None = getattr(config, "turnout_settings", None)
    if found is None:
        found = app_settings(config.loaded_app) or Settings()
        config.turnout_settings = found  # type: ignore[attr-defined]
    return found


class GuardedProtocol(HttpToolsProtocol):
    """One connection: uvicorn's httptools protocol, bounded in size and time (see the module doc)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = settings_of(config)
        self._phase = HEADERS
        self._since = 0.0  # loop time the phase began
        self._raw = 0  # bytes received while this request's headers are incomplete
        self._chunk = 0  # the size of the read being parsed
        self._body = 0  # body bytes of the current request
        self._stalled = 0.0  # loop time the client stopped taking our writes (0: it takes them)
        self._refused = False

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.write(reply(503, f"the gateway holds {self.limits.max_connections} connections; retry shortly"))
            transport.close()
            return
        super().connection_made(transport)
        self._since = self.loop.time()
        Sweep.ensure(self.server_state, self.loop, self.limits)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._refused:
            super().connection_lost(exc)

    def pause_writing(self) -> None:
        self._stalled = self.loop.time()
        super().pause_writing()

    def resume_writing(self) -> None:
        self._stalled = 0.0
        super().resume_writing()

    # Reading: uvicorn's data_received, plus the header bounds

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._phase == IDLE:
            self._phase, self._since, self._raw = HEADERS, self.loop.time(), 0
        before = self._phase
        self._chunk = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, Refusal):
                self._refuse(exc.__context__.status, exc.__context__.message)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._phase == HEADERS:
            # Still no complete headers: bound what httptools accumulates (a read that also ended an
            # earlier pipelined request is not counted, so its body is never taken for headers).
            self._raw = self._raw + len(data) if before == HEADERS else 0
            limits = self.limits
            if self._raw > limits.max_header_bytes:
                self._refuse(431, f"the request headers exceed {limits.max_header_bytes} bytes")
            elif self.headers is not None and len(self.headers) > limits.max_headers:
                self._refuse(431, f"the request has more than {limits.max_headers} headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != HEADERS:  # a pipelined request: its headers' clock starts now
            self._phase, self._since, self._raw = HEADERS, self.loop.time(), 0

    def on_headers_complete(self) -> None:
        limits = self.limits
        if len(self.headers) > limits.max_headers:
            raise Refusal(431, f"the request has more than {limits.max_headers} headers")
        if self._raw + self._chunk > limits.max_header_bytes:  # possibly over: count exactly
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > limits.max_header_bytes:
                raise Refusal(431, f"the request headers exceed {limits.max_header_bytes} bytes")
        self._phase, self._since, self._body = BODY, self.loop.time(), 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body += len(body)
        if self.cycle.response_complete:  # answered already: the rest is discarded, up to a bound
            if self._body > max(self.limits.max_body_bytes, self.limits.max_small_body_bytes):
                self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle.response_complete:  # answered before the body ended: now idle
            self._phase, self._since = IDLE, self.loop.time()
        else:
            self._phase = BUSY

    def on_response_complete(self) -> None:
        if self.pipeline or self.transport.is_closing():
            super().on_response_complete()  # uvicorn's: starts the next pipelined request (or nothing)
            return
        # uvicorn's, without its per-answer keep-alive timer: the sweep times idle connections out.
        self.server_state.total_requests += 1
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self._phase == BUSY and self.cycle.response_complete:
            self._phase, self._since = IDLE, self.loop.time()

    # Deadlines

    def check(self, now: float) -> None:
        """Called by the sweep: close this connection if the client is past a deadline."""
        if self.transport.is_closing():
            return
        limits = self.limits
        phase = self._phase
        elapsed = now - self._since
        if phase == HEADERS:
            if elapsed > limits.header_timeout:
                if self._raw:
                    self._refuse(408, f"the request headers took longer than {limits.header_timeout:g} s")
                else:
                    self.transport.close()  # nothing sent at all: nobody to answer
        elif phase == BODY:
            if elapsed > limits.body_timeout + self._body / limits.body_min_rate and not self.flow.read_paused:
                self._refuse(408, f"the request body took longer than {limits.body_timeout:g} s "
                                  f"plus 1 s per {limits.body_min_rate} bytes")
        elif phase == IDLE:
            if elapsed > limits.idle_timeout:
                self.transport.close()
        elif self._stalled and now - self._stalled > limits.send_timeout:
            log.info("closing a connection whose client took none of its answer for %g s", limits.send_timeout)
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` (unless an answer is already under way) and close the connection."""
        cycle = self.cycle
        if self._phase == BODY:
            if cycle.response_started:  # answered early, the body still coming: nothing more to say
                self.transport.close()
                return
            cycle.disconnected = True  # the app waiting for this body sees the client gone
            cycle.message_event.set()
        elif cycle is not None and not cycle.response_complete:
            self.transport.close()  # an earlier pipelined answer is under way: it cannot be interleaved
            return
        self.transport.write(reply(status, message))
        self.transport.close()


class Sweep:
    """One per server: checks every connection's deadline a few times a second while any is open."""

    __slots__ = ("handle", "interval", "loop", "state")

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop, limits: Settings) -> None:
        self.state = state
        self.loop = loop
        shortest = min(limits.header_timeout, limits.body_timeout, limits.idle_timeout, limits.send_timeout)
        self.interval = min(1.0, max(0.05, shortest / 8))
        self.handle: asyncio.TimerHandle | None = None

    @staticmethod
    def ensure(state: ServerState, loop: asyncio.AbstractEventLoop, limits: Settings) -> None:
        sweep: Sweep | None = getattr(state, "turnout_sweep", None)
        if sweep is None:
            sweep = Sweep(state, loop, limits)
            state.turnout_sweep = sweep  # type: ignore[attr-defined]
        if sweep.handle is None:
            sweep.handle = loop.call_later(sweep.interval, sweep.run)

    def run(self) -> None:
        now = self.loop.time()
        for conn in list(self.state.connections):
            if isinstance(conn, GuardedProtocol):
                try:
                    conn.check(now)
                except Exception:  # one connection's trouble must not stop the sweep for all
                    log.exception("connection deadline check failed")
                    conn.transport.close()
        self.handle = self.loop.call_later(self.interval, self.run) if self.state.connections else None


def fit_descriptors(max_connections: int) -> int:
    """Raise this process's open-file limit to fit `max_connections` (each may hold an upstream
    socket too, plus the store, logs and journal); returns the connection cap that fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * max_connections + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < want:
        fitted = max(1, (soft - 256) // 2)
        log.warning("the open-file limit (%d) fits %d connections, not max_connections=%d", soft, fitted, max_connections)
        return fitted
    return max_connections


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `turnout serve`: this protocol, with the settings' limits."""
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": GuardedProtocol,
        "log_level": settings.log_level,
        "access_log": False,
        "proxy_headers": False,  # the app applies it to the routes that need it (app.py, TurnoutApp)
        "server_header": False,
        "date_header": False,
    }
