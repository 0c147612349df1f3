"""Sending one request to an ordered list of endpoints: attempts, fallback, and stream start.

Fallback happens only before the first event reaches the client: `open_stream` pulls the first
real event of an attempt before returning, so an upstream error status, a refused connection or
a stream that dies at once moves on to the next endpoint. After that, failures travel in-band
as `StreamFailure`. A request the upstream rejects as invalid (4xx caller fault) is not retried.
Attempts are bounded in number (`MAX_ATTEMPTS`, across model fallbacks too) and in time (the
caller's deadline). Every outcome feeds the endpoint's health (core/health.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from turnout.core.catalog import Endpoint
from turnout.core.health import HealthTracker
from turnout.core.transport import HTTPError, Transport, broken, timed_out
from turnout.model.chat import ChatRequest
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.model.result import ChatResult
from turnout.model.stream import Finish, Heartbeat, StreamEvent, StreamFailure
from turnout.providers.base import Adapter, InProcessProvider
from turnout.providers.sse import SSEParser

MAX_ATTEMPTS = 6


@dataclass(slots=True)
class Attempt:
    provider: str
    upstream_model: str
    outcome: str  # ok | error
    status: int | None
    error: str | None
    ms: float
    model: str | None = None  # the catalog model id this attempt served
    reason: str | None = None  # why this endpoint was tried (the routing decision)
    # Parameters the translator dropped or changed to fit the model (providers/rules.py).
    adjusted: list[dict[str, Any]] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "upstream_model": self.upstream_model,
            "outcome": self.outcome,
            "status": self.status,
            "error": self.error,
            "ms": round(self.ms, 2),
            "reason": self.reason,
        }
        if self.adjusted:
            wire["adjusted"] = self.adjusted
        return wire


class Dispatcher:
    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        in_process: Mapping[str, InProcessProvider],
        transport: Transport,
        *,
        keepalive_interval: float,
        read_timeout: float,
    ) -> None:
        self._adapters = adapters
        self.in_process = in_process
        self._transport = transport
        self._keepalive = keepalive_interval
        self._read_timeout = read_timeout
        self.health = HealthTracker()

    def availability(self, endpoint: Endpoint) -> tuple[bool, str | None]:
        dialect = endpoint.provider.dialect
        local = self.in_process.get(dialect)
        if local is not None:
            return local.available(endpoint.upstream_model)
        if dialect not in self._adapters:
            hint = endpoint.provider.options.get("install_hint")
            return False, f"provider {endpoint.provider.slug} is not installed" + (f": {hint}" if hint else "")
        return endpoint.provider.availability()

    def _failed(
        self, endpoint: Endpoint, exc: UpstreamError, started: float, reason: str, adjusted: list[dict[str, Any]]
    ) -> Attempt:
        if exc.failure is FailureClass.RATE_LIMIT:
            self.health.rate_limited(endpoint.key, exc.retry_after)
        elif exc.failure is not FailureClass.CALLER_FAULT:
            self.health.failure(endpoint.key)
        return Attempt(
            endpoint.provider.slug, endpoint.upstream_model, "error", exc.upstream_status, exc.kind.value,
            _ms(started), endpoint.model_id, reason, adjusted or None,
        )

    def _succeeded(self, endpoint: Endpoint, started: float, reason: str, adjusted: list[dict[str, Any]]) -> Attempt:
        ms = _ms(started)
        self.health.success(endpoint.key, ms)
        return Attempt(
            endpoint.provider.slug, endpoint.upstream_model, "ok", 200, None, ms, endpoint.model_id, reason, adjusted or None
        )

    async def complete(
        self, request: ChatRequest, endpoints: list[Endpoint], attempts: list[Attempt], deadline: float, reason: str
    ) -> tuple[ChatResult, Endpoint]:
        last: UpstreamError | None = None
        for i, endpoint in enumerate(endpoints):
            if len(attempts) >= MAX_ATTEMPTS or time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            why = reason if i == 0 else f"fallback {i} after: {reason}"
            adjusted: list[dict[str, Any]] = []
            try:
                result = await self._complete_one(request, endpoint, adjusted)
            except UpstreamError as exc:
                attempts.append(self._failed(endpoint, exc, started, why, adjusted))
                if exc.failure is FailureClass.CALLER_FAULT:
                    raise
                last = exc
                continue
            attempts.append(self._succeeded(endpoint, started, why, adjusted))
            return result, endpoint
        raise _exhausted(last, attempts)

    async def _complete_one(self, request: ChatRequest, endpoint: Endpoint, adjusted: list[dict[str, Any]]) -> ChatResult:
        target = endpoint.target
        local = self.in_process.get(target.dialect)
        if local is not None:
            return await local.complete(request, target)
        adapter = self._adapters[target.dialect]
        up = adapter.build_request(request, target)
        adjusted.extend(up.adjusted)
        status, headers, body = await self._transport.fetch(up, target)
        if status >= 400:
            raise adapter.parse_error(status, headers, body, target)
        return adapter.parse_response(body, target)

    async def open_stream(
        self, request: ChatRequest, endpoints: list[Endpoint], attempts: list[Attempt], deadline: float, reason: str
    ) -> tuple[Endpoint, StreamEvent, AsyncIterator[StreamEvent]]:
        """The endpoint that answered, its first event, and the rest of its events."""
        last: UpstreamError | None = None
        for i, endpoint in enumerate(endpoints):
            if len(attempts) >= MAX_ATTEMPTS or time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            why = reason if i == 0 else f"fallback {i} after: {reason}"
            adjusted: list[dict[str, Any]] = []
            events = self._stream_one(request, endpoint, adjusted)
            try:
                first: StreamEvent = await anext(events)
                while isinstance(first, Heartbeat):
                    first = await anext(events)
            except StopAsyncIteration:
                first = StreamFailure(broken(endpoint.target, EOFError()))
            except UpstreamError as exc:
                await events.aclose()
                attempts.append(self._failed(endpoint, exc, started, why, adjusted))
                if exc.failure is FailureClass.CALLER_FAULT:
                    raise
                last = exc
                continue
            if isinstance(first, StreamFailure) and isinstance(first.error, UpstreamError):
                await events.aclose()
                attempts.append(self._failed(endpoint, first.error, started, why, adjusted))
                last = first.error
                continue
            attempts.append(self._succeeded(endpoint, started, why, adjusted))
            return endpoint, first, events
        raise _exhausted(last, attempts)

    async def _stream_one(
        self, request: ChatRequest, endpoint: Endpoint, adjusted: list[dict[str, Any]]
    ) -> AsyncGenerator[StreamEvent, None]:
        target = endpoint.target
        local = self.in_process.get(target.dialect)
        if local is not None:
            async for event in local.stream(request, target):
                yield event
            return
        adapter = self._adapters[target.dialect]
        up = adapter.build_request(request, target)
        adjusted.extend(up.adjusted)
        # Silence is measured here, in keep-alive ticks, so the socket itself may idle longer.
        resp = await self._transport.open(up, target, read_timeout=self._read_timeout + self._keepalive)
        finished = False
        ended = False  # the decoder gave its last event: the connection may be reused
        try:
            if resp.status >= 400:
                try:
                    body = await resp.read()
                except HTTPError:
                    body = b""
                raise adapter.parse_error(resp.status, resp.headers, body, target)
            decoder = adapter.open_stream(request, target)
            parser = SSEParser()
            idle = 0.0
            while True:
                try:
                    chunk = await resp.readany(self._keepalive)
                except HTTPError as exc:
                    yield StreamFailure(broken(target, exc))
                    return
                if chunk is None:  # silence for a keep-alive interval
                    idle += self._keepalive
                    if idle >= self._read_timeout:
                        yield StreamFailure(timed_out(target))
                        return
                    yield Heartbeat()
                    continue
                if not chunk:
                    break
                idle = 0.0
                for sse in parser.feed(chunk):
                    for event in decoder.feed(sse):
                        if isinstance(event, (Finish, StreamFailure)):
                            ended = True
                        yield event
            for sse in parser.flush():
                for event in decoder.feed(sse):
                    yield event
            for event in decoder.close():
                yield event
            finished = True
        finally:
            if finished or ended:
                resp.release()  # back to the pool once the body's last bytes are in
            else:
                resp.close()  # drops the connection, which cancels the upstream generation


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _exhausted(last: UpstreamError | None, attempts: list[Attempt]) -> GatewayError:
    if last is None:
        return GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider could take the request")
    if len(attempts) > 1:
        last.metadata["previous_errors"] = [a.to_wire() for a in attempts]
    return last
