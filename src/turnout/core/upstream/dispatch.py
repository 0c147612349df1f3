"""Sending one request to an ordered list of endpoints: attempts, fallback, and stream start.

Fallback happens only before the first event reaches the client: `open_stream` pulls the first
real event of an attempt before returning, so an upstream error status, a refused connection or
a stream that dies at once moves on to the next endpoint. After that, failures travel in-band
as `StreamFailure`. A request the upstream rejects as invalid (4xx caller fault, as a status or as
a stream's first event) is not retried. Completions, streams and embeddings share one attempt
loop (`Dispatcher.fallback`).
Attempts are bounded in number (`MAX_ATTEMPTS`, across model fallbacks too) and in time (the
caller's deadline). Every outcome feeds the endpoint's health (core/routing/health.py).

Whatever an upstream says on an error path passes through the transport's scrubber before it
is kept (core/upstream/transport.py); an attempt's `detail` (the host and address of a failed
connection) is stored for admins but left out of what a client is shown (`Attempt.public`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from turnout.core.catalog.catalog import Endpoint
from turnout.core.routing.availability import Availability
from turnout.core.routing.health import HealthTracker
from turnout.core.upstream.transport import HTTPError, LimitExceeded, Transport, broken, exceeded, timed_out
from turnout.model.chat import ChatRequest
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.model.result import ChatResult
from turnout.model.stream import Finish, Heartbeat, StreamEvent, StreamFailure
from turnout.observe.tracing import UPSTREAM_TRACEPARENT
from turnout.providers.base import Adapter, InProcessProvider, UpstreamRequest
from turnout.providers.sse import SSEEvent, SSELimitExceeded

MAX_ATTEMPTS = 6
T = TypeVar("T")


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
    detail: str | None = None  # what went wrong, naming hosts and addresses: logs and admins only
    # Parameters the translator dropped or changed to fit the model (providers/rules.py).
    adjusted: list[dict[str, Any]] | None = None
    byok: bool = False  # served (or tried) on the account's own provider key
    at: float = 0.0  # perf_counter time the attempt started (trace spans); not stored

    def to_wire(self) -> dict[str, Any]:
        """The stored form (the generation record): with `detail`."""
        return {**self.public(), "detail": self.detail}

    def public(self) -> dict[str, Any]:
        """What a client may see (`previous_errors`): no `detail`."""
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
        if self.byok:
            wire["is_byok"] = True
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
        self.judge = Availability(adapters, in_process)

    def availability(self, endpoint: Endpoint) -> tuple[bool, str | None]:
        """Whether the endpoint can answer (core/routing/availability.py: the answer every part gives)."""
        return self.judge(endpoint)

    def _failed(
        self, endpoint: Endpoint, exc: UpstreamError, started: float, reason: str, adjusted: list[dict[str, Any]]
    ) -> Attempt:
        if exc.failure is FailureClass.RATE_LIMIT:
            self.health.rate_limited(endpoint.key, exc.retry_after)
        elif exc.failure is not FailureClass.CALLER_FAULT:
            self.health.failure(endpoint.key)
        return Attempt(
            endpoint.provider.slug, endpoint.upstream_model, "error", exc.upstream_status, exc.kind.value,
            _ms(started), endpoint.model_id, reason, exc.detail, adjusted=adjusted or None, at=started,
            byok=endpoint.byok_id is not None,
        )

    def _succeeded(self, endpoint: Endpoint, started: float, reason: str, adjusted: list[dict[str, Any]]) -> Attempt:
        ms = _ms(started)
        self.health.success(endpoint.key, ms)
        return Attempt(
            endpoint.provider.slug, endpoint.upstream_model, "ok", 200, None, ms, endpoint.model_id, reason,
            adjusted=adjusted or None, byok=endpoint.byok_id is not None, at=started,
        )

    async def fallback(
        self, endpoints: list[Endpoint], attempts: list[Attempt], deadline: float, reason: str,
        one: Callable[[Endpoint, list[dict[str, Any]]], Awaitable[T]],
    ) -> tuple[T, Endpoint]:
        """`one(endpoint, adjusted)` on each endpoint in order until one answers: the one attempt loop
        of completions, streams (up to their first event) and embeddings, bounded by `MAX_ATTEMPTS` (counted across model fallbacks) and
        the deadline, each attempt recorded and fed to the endpoint's health."""
        last: UpstreamError | None = None
        for i, endpoint in enumerate(endpoints):
            if len(attempts) >= MAX_ATTEMPTS or time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            why = reason if i == 0 else f"fallback {i} after: {reason}"
            adjusted: list[dict[str, Any]] = []
            try:
                result = await one(endpoint, adjusted)
            except UpstreamError as exc:
                self._transport.scrub(exc)
                attempts.append(self._failed(endpoint, exc, started, why, adjusted))
                if exc.failure is FailureClass.CALLER_FAULT:
                    raise
                last = exc
                continue
            attempts.append(self._succeeded(endpoint, started, why, adjusted))
            return result, endpoint
        raise _exhausted(last, attempts)

    async def complete(
        self, request: ChatRequest, endpoints: list[Endpoint], attempts: list[Attempt], deadline: float, reason: str
    ) -> tuple[ChatResult, Endpoint]:
        return await self.fallback(endpoints, attempts, deadline, reason,
                                   lambda endpoint, adjusted: self._complete_one(request, endpoint, adjusted))

    async def _complete_one(self, request: ChatRequest, endpoint: Endpoint, adjusted: list[dict[str, Any]]) -> ChatResult:
        target = endpoint.target
        local = self.in_process.get(target.dialect)
        if local is not None:
            return await local.complete(request, target)
        adapter = self._adapters[target.dialect]
        up = traced(adapter.build_request(request, target))
        adjusted.extend(up.adjusted)
        return await self._transport.exchange(up, target, adapter.parse_error, adapter.parse_response)

    async def open_stream(
        self, request: ChatRequest, endpoints: list[Endpoint], attempts: list[Attempt], deadline: float, reason: str
    ) -> tuple[Endpoint, StreamEvent, AsyncIterator[StreamEvent]]:
        """The endpoint that answered, its first event, and the rest of its events: the same
        attempt loop as completions (`fallback`), an attempt being the stream up to its first event."""

        async def one(endpoint: Endpoint, adjusted: list[dict[str, Any]]) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
            return await self._first_event(self._stream_one(request, endpoint, adjusted), endpoint)

        (first, events), endpoint = await self.fallback(endpoints, attempts, deadline, reason, one)
        return endpoint, first, events

    @staticmethod
    async def _first_event(
        events: AsyncGenerator[StreamEvent, None], endpoint: Endpoint
    ) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
        """A stream's first real event (keep-alive heartbeats skipped) and the stream; a stream that
        fails before it (an error raised or its first event a failure, or no event at all) is
        closed and raises, so that the attempt loop moves on to the next endpoint."""
        try:
            first: StreamEvent = await anext(events)
            while isinstance(first, Heartbeat):
                first = await anext(events)
        except StopAsyncIteration:
            raise broken(endpoint.target, EOFError()) from None
        except UpstreamError:
            await events.aclose()
            raise
        if isinstance(first, StreamFailure) and isinstance(first.error, UpstreamError):
            await events.aclose()
            raise first.error
        return first, events

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
        up = traced(adapter.build_request(request, target))
        transport = self._transport
        adjusted.extend(up.adjusted)
        # Silence is measured here, in keep-alive ticks, so the socket itself may idle longer.
        resp = await transport.open(up, target, read_timeout=self._read_timeout + self._keepalive)
        finished = False
        ended = False  # the decoder gave its last event: the connection may be reused
        try:
            if resp.status >= 400:
                try:
                    body = await resp.read()
                except LimitExceeded as exc:
                    raise transport.logged(exceeded(target, exc), target) from None
                except HTTPError:
                    body = b""  # cut short: the status still says what failed
                raise transport.error_answer(adapter.parse_error, resp.status, resp.headers, body, target, up)
            decoder = adapter.open_stream(request, target)
            parser = transport.sse_parser()
            idle = 0.0
            sses: list[SSEEvent]
            while True:
                try:
                    chunk = await resp.readany(self._keepalive)
                except HTTPError as exc:
                    yield StreamFailure(transport.logged(broken(target, exc), target))
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
                try:
                    sses = parser.feed(chunk)
                except SSELimitExceeded as exc:  # the connection is dropped below, never pooled
                    yield StreamFailure(transport.logged(exceeded(target, exc), target))
                    return
                for sse in sses:
                    for event in decoder.feed(sse):
                        if isinstance(event, (Finish, StreamFailure)):
                            ended = True
                            if isinstance(event, StreamFailure):  # an upstream's words: scrubbed
                                transport.scrub(event.error, up)
                        yield event
            try:
                sses = parser.flush()
            except SSELimitExceeded as exc:
                yield StreamFailure(transport.logged(exceeded(target, exc), target))
                return
            for sse in sses:
                for event in decoder.feed(sse):
                    if isinstance(event, StreamFailure):
                        transport.scrub(event.error, up)
                    yield event
            for event in decoder.close():
                yield event
            finished = True
        finally:
            if finished or ended:
                resp.release()  # back to the pool once the body's last bytes are in
            else:
                resp.close()  # drops the connection, which cancels the upstream generation


def traced(up: UpstreamRequest) -> UpstreamRequest:
    """The request with this trace's `traceparent` when tracing is on (observe/tracing.py)."""
    parent = UPSTREAM_TRACEPARENT.get()
    if parent is None:
        return up
    return dataclasses.replace(up, headers={**up.headers, "traceparent": parent})


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _exhausted(last: UpstreamError | None, attempts: list[Attempt]) -> GatewayError:
    if last is None:
        return GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider could take the request")
    if len(attempts) > 1:
        last.metadata["previous_errors"] = [a.public() for a in attempts]
    return last
