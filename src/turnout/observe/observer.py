"""The requests in flight, and what each finished one leaves behind in metrics and traces.

`RequestContext` calls `begin` when it is made and `end` when its generation record is written,
through `Accountant.observer` (None when nothing observes: embedded apps in tests). The set of
live contexts is what graceful shutdown drains (observe/shutdown.py); the Server-Timing header
finds the request's context through a context variable set per request (observe/timing.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from turnout.observe.metrics import Metrics
from turnout.store.base import GenerationRecord

if TYPE_CHECKING:
    from turnout.core.context import RequestContext


class Slot:
    """Per HTTP request: the gateway context it made (if any), for the Server-Timing header."""

    __slots__ = ("ctx", "started", "trace_id")

    def __init__(self) -> None:
        self.ctx: RequestContext | None = None
        self.started = time.perf_counter()
        self.trace_id: str | None = None


RECENT_ERRORS = 5  # failed attempts kept per endpoint for the admin console
SETTLE_WAIT = 0.05  # seconds a finished request's metrics and log line may wait to be settled
SETTLE_BATCH = 256  # ... or until this many are waiting
REQUESTS_LOG = logging.getLogger("turnout.requests")
SWEEP_EVERY = 4096  # requests between sweeps of the live set

CURRENT: ContextVar[Slot | None] = ContextVar("turnout_request_slot", default=None)


class Observer:
    def __init__(self, metrics: Metrics | None, tracer: Any = None, max_age: float = 3600.0,
                 line: Callable[[GenerationRecord, Any, str | None, str | None], None] | None = None) -> None:
        self.metrics = metrics
        self.line = line  # the request log line (core/context.py's log_request), written in batches
        self._pending: list[tuple[GenerationRecord, str | None, str | None, float, Any, str | None]] = []
        self._armed: asyncio.AbstractEventLoop | None = None  # the loop a settle is scheduled on
        self.tracer = tracer  # observe/tracing.py, when traces are on
        self.live: dict[int, RequestContext] = {}  # by id(): contexts compare by value
        self.draining = False
        self.max_age = max_age  # a context never recorded (a bug elsewhere) is dropped after this
        self._begun = 0
        # (catalog model id, provider slug) -> its last failed attempts: (time, error kind, status)
        self.recent_errors: dict[tuple[str, str], deque[tuple[float, str | None, int | None]]] = {}

    def begin(self, ctx: RequestContext) -> None:
        self.live[id(ctx)] = ctx
        self._begun += 1
        if self._begun % SWEEP_EVERY == 0:
            self.sweep()
        slot = CURRENT.get()
        if slot is not None and slot.ctx is None:
            slot.ctx = ctx
        if self.tracer is not None:
            trace_id = self.tracer.begin(ctx)
            if slot is not None:
                slot.trace_id = trace_id

    def trace_id(self, ctx: RequestContext) -> str | None:
        return self.tracer.trace_id(ctx) if self.tracer is not None else None

    def end(self, ctx: RequestContext, record: GenerationRecord) -> None:
        """The request is recorded: it leaves the live set now; its metrics and log line are
        queued and settled in batches (`settle`, at most `SETTLE_WAIT` later): run one after
        another, hot in the CPU's caches, they cost a fraction of what each does on its own
        between two requests."""
        self.live.pop(id(ctx), None)
        upstream = 0.0
        for a in ctx.attempts:
            upstream += a.ms
            if a.outcome != "ok" and a.model is not None:  # endpoints are the catalog's: bounded
                errors = self.recent_errors.get((a.model, a.provider))
                if errors is None:
                    errors = self.recent_errors[(a.model, a.provider)] = deque(maxlen=RECENT_ERRORS)
                errors.appendleft((time.time(), a.error, a.status))
        trace_id = self.tracer.trace_id(ctx) if self.tracer is not None else None
        if self.metrics is not None or (self.line is not None and REQUESTS_LOG.isEnabledFor(logging.INFO)):
            ep = ctx.endpoint
            self._pending.append((record, ctx.error.kind.value if ctx.error is not None else None,
                                  ep.provider.slug if ep is not None else None, upstream, ctx.key, trace_id))
            self._schedule()
        if self.tracer is not None:
            self.tracer.end(ctx, record)

    def _schedule(self) -> None:
        if len(self._pending) >= SETTLE_BATCH:
            self.settle()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop here (tests, tools): nothing would settle it later
            self.settle()
            return
        if self._armed is not loop:
            self._armed = loop
            loop.call_later(SETTLE_WAIT, self.settle, context=contextvars.Context())  # for every request, not the first's

    def settle(self) -> None:
        """Count the queued requests in the metrics and write their log lines (before a scrape,
        at shutdown, and `SETTLE_WAIT` after a request)."""
        self._armed = None
        pending, self._pending = self._pending, []
        metrics = self.metrics
        line = self.line if REQUESTS_LOG.isEnabledFor(logging.INFO) else None
        for record, kind, slug, upstream, key, trace_id in pending:
            try:
                if metrics is not None:
                    metrics.request(record, kind, slug, upstream)
                if line is not None:
                    line(record, key, slug, trace_id)
            except Exception:  # one bad record must not cost the rest of the batch
                logging.getLogger("turnout").exception("counting request %s in the metrics failed", record.id)

    def sweep(self) -> None:
        """Forget contexts older than any request may run: a context that was never recorded must
        not be held (and counted as open) forever."""
        oldest = time.perf_counter() - self.max_age
        for key in [k for k, c in self.live.items() if c.started < oldest]:
            ctx = self.live.pop(key)
            if self.tracer is not None:
                self.tracer.forget(ctx)

    def open_counts(self) -> tuple[int, int]:
        """Requests in flight: (not streamed, streamed)."""
        streamed = sum(1 for c in self.live.values() if c.streamed)
        return len(self.live) - streamed, streamed


def refresh_gauges(rt: Any) -> None:
    """Set the gauges from the runtime's state (`rt`: turnout.runtime.Runtime): periodically and
    before a scrape, never on the request path."""
    observer: Observer | None = rt.accountant.observer
    m = observer.metrics if observer is not None else None
    if observer is None or m is None:
        return
    observer.settle()
    m.flush()
    plain, streamed = observer.open_counts()
    m.open_requests.labels("0").set(plain)
    m.open_requests.labels("1").set(streamed)
    m.queue_depth.set(rt.accountant.queue_depth())
    m.journal_lag.set(rt.journal.lag() if rt.journal is not None else 0)
    health = rt.dispatcher.health
    for model in rt.catalog.models.values():
        for ep in model.endpoints:
            if not health.seen(ep.key):
                continue
            provider = m.provider_label(ep.provider.slug)
            m.circuit.labels(provider, ep.key).set(1 if health.blocked(ep.key) else 0)
            rate = health.success_rate(ep.key)
            if rate is not None:
                m.uptime.labels(provider, ep.key).set(rate)
            if ep.provider.dialect == "local":
                tps = health.p50_throughput(ep.key)
                if tps is not None:
                    m.local_tps.set(tps)
    for provider in rt.dispatcher.in_process.values():
        info = getattr(provider, "info", None)
        if info is None:
            continue
        state = info()
        if state.get("loaded"):
            m.local_queue.set(state.get("waiting", 0))
            m.local_active.set(state.get("active", 0))
