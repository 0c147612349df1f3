"""The network seam: one pooled HTTP client for every upstream, owned by the runtime.

Connection errors, timeouts and broken limits become `UpstreamError`s here; above this module
only `core/upstream/http.py`'s `Response` (status, headers, `read`, `readany`, `release`, `close`) and its
`HTTPError` are seen. It also owns what is done to anything an upstream says on an error path:
error bodies and stream errors are scrubbed of secrets (core/upstream/scrub.py) before they are parsed,
shown or stored, and the host, address and OS detail of a failed connection go to the log and
to the error's `detail` (admins), never to its message (clients).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

from turnout.core.upstream.http import (
    ConnectError,
    HTTPClient,
    HTTPError,
    LimitExceeded,
    Limits,
    PoolTimeout,
    ReadTimeout,
    Response,
    TLSError,
)
from turnout.core.upstream.scrub import Scrubber
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.errors import bounded
from turnout.providers.sse import SSELimitExceeded, SSEParser
from turnout.settings import Settings

__all__ = ["HTTPError", "LimitExceeded", "Response", "Transport", "UpstreamLimits", "broken", "exceeded", "timed_out"]

log = logging.getLogger("turnout.upstream")

ParseError = Callable[[int, Mapping[str, str], bytes, Target], UpstreamError]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UpstreamLimits:
    """What one upstream answer may make the gateway hold (docs/security.md, "Upstream limits")."""

    answer_bytes: int = 64 << 20
    error_bytes: int = 1 << 20
    headers: int = 256
    header_bytes: int = 64 << 10
    sse_line_bytes: int = 16 << 20
    sse_event_bytes: int = 16 << 20

    @property
    def http(self) -> Limits:
        return Limits(self.answer_bytes, self.error_bytes, self.headers, self.header_bytes)


def upstream_limits(settings: Settings) -> UpstreamLimits:
    return UpstreamLimits(
        settings.upstream_max_answer_bytes, settings.upstream_max_error_bytes, settings.upstream_max_headers,
        settings.upstream_max_header_bytes, settings.upstream_max_sse_line_bytes, settings.upstream_max_sse_event_bytes,
    )


@dataclass(frozen=True, slots=True)
class Pooling:
    """Connections per upstream host (docs/networking.md): the settings of the same names."""

    max_connections: int = 100  # upstream_max_connections (a provider's max_connections overrides it)
    max_idle: int = 32  # upstream_max_idle_connections
    idle_timeout: float = 30.0  # upstream_idle_timeout
    pool_timeout: float | None = None  # upstream_pool_timeout: the wait for a free connection; None: connect_timeout


def pooling(settings: Settings) -> Pooling:
    return Pooling(settings.upstream_max_connections, settings.upstream_max_idle_connections,
                   settings.upstream_idle_timeout, settings.upstream_pool_timeout)


class Transport:
    def __init__(
        self, connect_timeout: float, read_timeout: float, *,
        limits: UpstreamLimits | None = None, scrubber: Scrubber | None = None, pools: Pooling | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.limits = limits or UpstreamLimits()
        self.scrubber = scrubber or Scrubber(())
        p = pools or Pooling()
        self._client = HTTPClient(
            connect_timeout, read_timeout, self.limits.http, max_connections=p.max_connections, max_idle=p.max_idle,
            idle_timeout=p.idle_timeout, pool_timeout=p.pool_timeout, environ=environ,
        )
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Idle connections past `upstream_idle_timeout` are closed even when no request comes."""
        every = max(self._client.idle_timeout / 2, 0.05)
        while True:
            await asyncio.sleep(every)
            self._client.sweep()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        await self._client.close()

    async def open(self, up: UpstreamRequest, target: Target, *, read_timeout: float | None = None) -> Response:
        """Send the request and return once the status line and headers are in."""
        try:
            resp = await self._client.request(
                up.method, up.url, dict(up.headers), up.body, read_timeout=read_timeout, stream=up.stream,
                network=target.network,
            )
        except ReadTimeout:
            raise timed_out(target) from None
        except TLSError as exc:
            raise self.logged(transient(target, ErrorKind.PROVIDER_TLS_FAILED, f"{target.provider_name}: {exc}",
                                        exc.detail), target) from None
        except PoolTimeout as exc:
            raise self.logged(transient(target, ErrorKind.PROVIDER_OVERLOADED,
                                        f"{target.provider_name} is busy: {exc} (the upstream_pool_timeout setting)"),
                              target) from None
        except ConnectError as exc:
            raise self.logged(transient(target, ErrorKind.PROVIDER_UNREACHABLE,
                                        f"{target.provider_name} is unreachable: {exc}", exc.detail), target) from None
        except HTTPError as exc:
            raise self.logged(broken(target, exc), target) from None
        if 300 <= resp.status < 400:  # never followed: the key would go wherever the upstream points
            resp.close()
            raise self.logged(redirected(target, resp.status, resp.headers.get("location", "")), target)
        return resp

    async def fetch(self, up: UpstreamRequest, target: Target) -> tuple[int, Mapping[str, str], bytes]:
        """A whole exchange: status, headers and body; the connection goes back to the pool."""
        resp = await self.open(up, target)
        try:
            body = await self.read(resp, target)
        except asyncio.CancelledError:  # the client left or the deadline passed: drop, never pool, it
            resp.close()
            raise
        finally:
            resp.release()
        return resp.status, resp.headers, body

    async def exchange(self, up: UpstreamRequest, target: Target, parse_error: ParseError,
                       parse: Callable[[bytes, Target], T]) -> T:
        """A whole exchange, parsed: an error status becomes the adapter's error (`error_answer`),
        an answer the adapter cannot read a scrubbed error, anything else `parse(body, target)`."""
        status, headers, body = await self.fetch(up, target)
        if status >= 400:
            raise self.error_answer(parse_error, status, headers, body, target, up)
        try:
            return parse(body, target)
        except GatewayError as exc:
            self.scrub(exc, up)
            raise

    async def read(self, resp: Response, target: Target) -> bytes:
        """A whole body, within its limit (the answer's or the error's)."""
        try:
            return await resp.read()
        except ReadTimeout:
            raise timed_out(target) from None
        except HTTPError as exc:
            raise self.logged(broken(target, exc), target) from None

    def sse_parser(self) -> SSEParser:
        return SSEParser(self.limits.sse_line_bytes, self.limits.sse_event_bytes)

    def error_answer(
        self, parse_error: ParseError, status: int, headers: Mapping[str, str], body: bytes,
        target: Target, up: UpstreamRequest,
    ) -> UpstreamError:
        """An error answer as the adapter classifies it, with every secret scrubbed out of it:
        from the raw body first (before any excerpt can cut a secret in two), then from what was
        parsed (a JSON escape may have spelled a secret differently)."""
        scrubber = self.scrubber.with_sent(up.headers)
        exc = parse_error(status, headers, scrubber.data(body), target)
        bounded(scrubber.error(exc))
        return exc

    def scrub(self, exc: GatewayError, up: UpstreamRequest | None = None) -> GatewayError:
        """Any error that may carry an upstream's words (a stream's error event, a bad answer):
        scrubbed of secrets, then cut to what a client can be shown (providers/errors.py)."""
        return bounded((self.scrubber if up is None else self.scrubber.with_sent(up.headers)).error(exc))

    def logged(self, exc: UpstreamError, target: Target) -> UpstreamError:
        """Log what went wrong with its detail (addresses are for operators), scrubbed."""
        log.warning("%s (%s): %s", target.provider, exc.kind.value, self.scrubber.text(exc.detail or exc.message))
        return exc


def redirected(target: Target, status: int, location: str) -> UpstreamError:
    """A 3xx answer: an error naming where it pointed (without any credentials in that URL)."""
    parts = urlsplit(location)
    shown = location
    if parts.netloc:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = host + (f":{parts.port}" if _port(parts) else "")
        shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    else:
        shown = parts.path
    shown = shown[:300]
    return UpstreamError(
        ErrorKind.PROVIDER_BAD_RESPONSE,
        f"{target.provider_name} answered with a redirect ({status}) to {shown or 'nowhere'}: redirects are not "
        "followed (fix the provider's base_url)",
        provider=target.provider_name,
        upstream_status=status,
        failure=FailureClass.TRANSIENT,
    )


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def transient(target: Target, kind: ErrorKind, message: str, detail: str | None = None) -> UpstreamError:
    """An upstream failure worth another endpoint (the next one is tried); `detail` (hosts,
    addresses) is for logs and admins only."""
    return UpstreamError(kind, message, provider=target.provider_name, failure=FailureClass.TRANSIENT, detail=detail)


def timed_out(target: Target) -> UpstreamError:
    return transient(target, ErrorKind.PROVIDER_TIMEOUT, f"{target.provider_name} timed out")


def broken(target: Target, exc: BaseException) -> UpstreamError:
    if isinstance(exc, (LimitExceeded, SSELimitExceeded)):
        return exceeded(target, exc)
    return transient(target, ErrorKind.PROVIDER_BAD_RESPONSE,
                     f"the connection to {target.provider_name} failed: {exc or type(exc).__name__}",
                     exc.detail if isinstance(exc, HTTPError) else None)


def exceeded(target: Target, exc: LimitExceeded | SSELimitExceeded) -> UpstreamError:
    """An answer that broke a limit: a 502 that names the limit (its setting) in the message and
    in `metadata.limit`. The connection is already closed, never pooled."""
    error = transient(target, ErrorKind.PROVIDER_BAD_RESPONSE, f"{target.provider_name} sent too much: {exc}")
    error.metadata["limit"] = exc.setting
    return error
