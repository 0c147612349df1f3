"""Prometheus metrics: what is counted, with which (bounded) labels, and how it is exposed.

Requests are counted once, from their generation record (`RequestContext.record`), never per
chunk. Labels come only from bounded sets: the inbound dialect, a catalog model id (anything
else is "other", so random model names cannot grow the series), a catalog provider slug, the
record's status and the `ErrorKind` of a failure. No key hash, no free text. Label children are
cached per label tuple (bounded by the same sets). The hot path only adds plain numbers (a dict
lookup, a few additions, a bisect per histogram); `flush` pushes them into prometheus-client's
locked values before each scrape (and every 2 s per worker in multi-process mode).

Gauges (open requests, circuit state, accounting queue, journal lag, the local model's queue) are
set from a periodic refresh and just before a scrape, never on the request path.

With `--workers N` prometheus-client's multi-process mode is used: `turnout serve` points
`PROMETHEUS_MULTIPROC_DIR` at a fresh folder before the workers start, each worker writes its
values there, and whichever worker answers `/metrics` aggregates them all.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from turnout.store.base import GenerationRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


DIALECTS = ("openai", "anthropic", "responses", "completions", "embeddings")


class Pending:
    """A histogram child's observations since the last flush: bucket counts and a sum, kept as
    plain numbers (prometheus-client takes a lock per bucket and per sum on every `observe`)."""

    __slots__ = ("bounds", "child", "counts", "sum")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds)  # the last one is +Inf
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value
        self.sum += value

    def flush(self) -> None:
        if not any(self.counts):
            return
        buckets = self.child._buckets
        for i, n in enumerate(self.counts):
            if n:
                buckets[i].inc(n)
                self.counts[i] = 0
        self.child._sum.inc(self.sum)
        self.sum = 0.0


class Series:
    """One label combination of the request metrics: its counter children and pending sums."""

    __slots__ = ("acc", "children", "duration")

    def __init__(self, requests: Any, t_in: Any, t_out: Any, t_cached: Any, t_reason: Any, cost: Any,
                 duration: Pending) -> None:
        self.children = (requests, t_in, t_out, t_cached, t_reason, cost)
        self.acc = [0.0] * 6
        self.duration = duration

    def flush(self) -> None:
        acc = self.acc
        for i, child in enumerate(self.children):
            if acc[i]:
                child.inc(acc[i])
                acc[i] = 0.0
        self.duration.flush()


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """One process's metrics. `models` and `providers` are the catalog's ids: the only label values."""

    def __init__(self, models: Iterable[str], providers: Iterable[str]) -> None:
        self.models = frozenset(models)
        self.providers = frozenset(providers)
        self.shared = multiprocess()
        # multi-process: the values live in the shared folder; a scrape builds its own registry
        self.registry = CollectorRegistry(auto_describe=False)
        reg = None if self.shared else self.registry
        self.requests = Counter("turnout_requests", "Requests by inbound dialect, model, provider and outcome",
                                ["dialect", "model", "provider", "outcome", "error"], registry=reg)
        self.duration = Histogram("turnout_request_duration_seconds", "End-to-end request time",
                                  ["dialect", "streamed"], buckets=LATENCY_BUCKETS, registry=reg)
        self.ttft = Histogram("turnout_time_to_first_token_seconds", "Time to the first token (streams)",
                              ["dialect"], buckets=LATENCY_BUCKETS, registry=reg)
        self.overhead = Histogram("turnout_gateway_overhead_seconds",
                                  "The gateway's own time per request (total less the upstream's)",
                                  buckets=OVERHEAD_BUCKETS, registry=reg)
        self.tokens = Counter("turnout_tokens", "Tokens by model, provider and direction",
                              ["model", "provider", "direction"], registry=reg)
        self.cost = Counter("turnout_cost_usd", "Cost charged, in USD, by model and provider",
                            ["model", "provider"], registry=reg)
        self.attempts = Counter("turnout_upstream_attempts", "Upstream attempts by provider, outcome and error kind",
                                ["provider", "outcome", "error"], registry=reg)
        self.fallbacks = Counter("turnout_fallbacks", "Attempts after the first one of a request", registry=reg)
        self.refusals = Counter("turnout_refusals", "Requests refused by a rate limit or a budget", ["reason"],
                                registry=reg)
        self.open_requests = Gauge("turnout_open_requests", "Requests in flight", ["streamed"], registry=reg, multiprocess_mode="livesum")
        self.queue_depth = Gauge("turnout_accounting_queue_depth", "Generation records waiting to be written",
                                 registry=reg, multiprocess_mode="livesum")
        self.journal_lag = Gauge("turnout_journal_lag_records", "Records journalled but not yet in the store",
                                 registry=reg, multiprocess_mode="livesum")
        self.circuit = Gauge("turnout_circuit_open", "1 while an endpoint's circuit is open or cooling down",
                             ["provider", "endpoint"], registry=reg, multiprocess_mode="max")
        self.uptime = Gauge("turnout_endpoint_success_ratio", "An endpoint's success ratio over 30 minutes",
                            ["provider", "endpoint"], registry=reg, multiprocess_mode="max")
        self.local_queue = Gauge("turnout_local_model_queue", "Requests waiting for the built-in local model",
                                 registry=reg, multiprocess_mode="livesum")
        self.local_active = Gauge("turnout_local_model_active", "Generations running in the built-in local model",
                                  registry=reg, multiprocess_mode="livesum")
        self.local_tps = Gauge("turnout_local_model_tokens_per_second", "The local model's median throughput",
                               registry=reg, multiprocess_mode="max")
        self._series: dict[tuple[str, ...], Series] = {}
        self._attempt_children: dict[tuple[str, str, str], Any] = {}
        self._refusal = {"policy_rate_limited": self.refusals.labels("rate_limit"),
                         "policy_budget_exceeded": self.refusals.labels("budget")}
        self._fallbacks = self.fallbacks
        self._ttft = {d: Pending(self.ttft.labels(d)) for d in (*DIALECTS, OTHER)}
        self._overhead = Pending(self.overhead)
        self._counts: dict[Any, float] = {}  # counter child -> increments not yet pushed
        self._dirty = False

    def model_label(self, model: str) -> str:
        return model if model in self.models else OTHER

    def provider_label(self, provider: str | None) -> str:
        if provider is None:
            return "none"
        return provider if provider in self.providers else OTHER

    def _bound(self, dialect: str, model: str, provider: str, status: str, error: str, streamed: bool) -> Series:
        key = (dialect, model, provider, status, error, "1" if streamed else "0")
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(
                self.requests.labels(dialect, model, provider, status, error),
                self.tokens.labels(model, provider, "input"), self.tokens.labels(model, provider, "output"),
                self.tokens.labels(model, provider, "cached"), self.tokens.labels(model, provider, "reasoning"),
                self.cost.labels(model, provider), Pending(self.duration.labels(dialect, key[5])))
        return series

    def request(self, r: GenerationRecord, error_kind: str | None, provider_slug: str | None,
                upstream_ms: float) -> None:
        """Count one finished request from its generation record: plain additions here, pushed into
        prometheus-client's (locked) values by `flush` before a scrape."""
        dialect = r.dialect_in if r.dialect_in in self._ttft else OTHER
        series = self._bound(dialect, self.model_label(r.model), self.provider_label(provider_slug), r.status,
                             error_kind or "none", r.streamed)
        acc = series.acc
        acc[0] += 1
        acc[1] += r.prompt_tokens
        acc[2] += r.completion_tokens
        acc[3] += r.cached_tokens
        acc[4] += r.reasoning_tokens
        if r.cost:
            acc[5] += float(r.cost)
        series.duration.observe(r.generation_time_ms / 1000)
        if r.streamed:
            if r.latency_ms is not None:
                self._ttft[dialect].observe(r.latency_ms / 1000)
                # a stream's upstream time is its attempts up to the first event: overhead is measured there
                self._overhead.observe(max(r.latency_ms - upstream_ms, 0.0) / 1000)
        else:
            self._overhead.observe(max(r.generation_time_ms - upstream_ms, 0.0) / 1000)
        if error_kind is not None:
            refusal = self._refusal.get(error_kind)
            if refusal is not None:
                self._counts[refusal] = self._counts.get(refusal, 0) + 1
        attempts = r.attempts
        if attempts:
            if len(attempts) > 1:
                self._counts[self._fallbacks] = self._counts.get(self._fallbacks, 0) + len(attempts) - 1
            for a in attempts:
                child = self._attempt_child(a.get("provider"), a.get("outcome") or "error", a.get("error"))
                self._counts[child] = self._counts.get(child, 0) + 1
        self._dirty = True

    def _attempt_child(self, provider: str | None, outcome: str, error: str | None) -> Any:
        key = (self.provider_label(provider), outcome if outcome in ("ok", "error") else OTHER, error or "none")
        child = self._attempt_children.get(key)
        if child is None:
            child = self._attempt_children[key] = self.attempts.labels(*key)
        return child

    def flush(self) -> None:
        """Push what `request` accumulated into prometheus-client's values (a scrape, a refresh)."""
        if not self._dirty:
            return
        self._dirty = False
        for series in self._series.values():
            series.flush()
        for p in (*self._ttft.values(), self._overhead):
            p.flush()
        counts, self._counts = self._counts, {}
        for child, n in counts.items():
            child.inc(n)

    def render(self) -> bytes:
        """The Prometheus text exposition, of every worker in multi-process mode."""
        self.flush()
        if self.shared:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
