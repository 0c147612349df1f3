"""Per-endpoint health from live traffic: success rate, time to first token, throughput, breaker.

Everything is in memory and per process, kept over sliding windows (the last 30 minutes and a
day of hourly buckets). What counts as a failure follows OpenRouter's provider uptime rules:
upstream auth errors, 404s, 5xx, timeouts, bad or cut responses; a 400 caused by the request
is not the provider's fault and 429s are tracked apart (they set a cool-down from Retry-After).

An endpoint that failed in the last `RECENT_SECONDS` is tried last. After `BREAKER_THRESHOLD`
consecutive failures its circuit opens: it is skipped for a back-off that doubles on every
failed probe (5 s up to 5 min); when the back-off ends one request is let through as a probe,
and a success closes the circuit.

With `redis_url` set, core/routing/shared_health.py mirrors this state across replicas: the tracker then
records its observations into `events` (a list the mirror drains in the background, so a request
never waits on Redis) and receives the fleet's state from it; in that mode a finished back-off is
probed only by the replica granted the probe (`grant_probe`), the others keep skipping it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 1800.0
RECENT_SECONDS = 30.0
BREAKER_THRESHOLD = 5
BASE_BACKOFF = 5.0
MAX_BACKOFF = 300.0
SAMPLES = 4096  # per endpoint, bounded whatever the traffic

log = logging.getLogger("turnout.health")


@dataclass(slots=True)
class EndpointHealth:
    outcomes: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    ttft_ms: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    throughput: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    last_failure: float = float("-inf")
    consecutive_failures: int = 0
    open_until: float = 0.0
    backoff: float = BASE_BACKOFF
    probing: bool = False
    cooldown_until: float = 0.0
    opened_at: float = float("-inf")  # when the circuit last opened here (a fleet close after it closes it)
    probe_granted_until: float = 0.0  # shared mode: this replica holds the half-open probe until then


def percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    s = sorted(values)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 2)

    return {"p50": at(0.5), "p75": at(0.75), "p90": at(0.9), "p99": at(0.99)}


class HealthTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_key: dict[str, EndpointHealth] = {}
        # Shared mode (core/routing/shared_health.py): observations queued for Redis; None when alone.
        self.events: list[tuple[Any, ...]] | None = None
        self.shared = False  # the fleet's state is being received: probes need a grant

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def endpoints(self) -> dict[str, EndpointHealth]:
        return self._by_key

    def state(self, key: str) -> EndpointHealth:
        return self._get(key)

    def _get(self, key: str) -> EndpointHealth:
        h = self._by_key.get(key)
        if h is None:
            h = self._by_key[key] = EndpointHealth()
        return h

    # -- observations -------------------------------------------------------------------------

    def success(self, key: str, ttft_ms: float | None = None) -> None:
        h = self._get(key)
        now = self._clock()
        h.outcomes.append((now, True))
        if ttft_ms is not None:
            h.ttft_ms.append((now, ttft_ms))
        h.consecutive_failures = 0
        was_open = bool(h.open_until)
        if was_open:
            log.info("circuit closed for %s: a probe succeeded", key)
        h.open_until = 0.0
        h.backoff = BASE_BACKOFF
        h.probing = False
        h.probe_granted_until = 0.0
        if self.events is not None:
            self.events.append(("ok", key, now, ttft_ms, was_open))

    def throughput(self, key: str, tokens_per_second: float) -> None:
        now = self._clock()
        self._get(key).throughput.append((now, tokens_per_second))
        if self.events is not None:
            self.events.append(("tp", key, now, tokens_per_second))

    def failure(self, key: str) -> None:
        h = self._get(key)
        now = self._clock()
        h.outcomes.append((now, False))
        h.last_failure = now
        h.consecutive_failures += 1
        if self.events is not None:
            self.events.append(("fail", key, now, h.probing))
        if h.probing or h.consecutive_failures >= BREAKER_THRESHOLD:
            if h.probing:
                h.backoff = min(h.backoff * 2, MAX_BACKOFF)
            if h.probing or not h.open_until:  # a change of state, not one more failure while open
                log.warning("circuit open for %s after %d consecutive failures; next probe in %.0fs",
                            key, h.consecutive_failures, h.backoff)
            h.open_until = now + h.backoff
            h.opened_at = now
            h.probing = False
            h.probe_granted_until = 0.0

    def rate_limited(self, key: str, retry_after: float | None) -> None:
        h = self._get(key)
        h.cooldown_until = max(h.cooldown_until, self._clock() + (retry_after if retry_after else BASE_BACKOFF))
        if self.events is not None:
            self.events.append(("rl", key, h.cooldown_until))

    def seen(self, key: str) -> bool:
        """Whether the endpoint has had any traffic in this process."""
        return key in self._by_key

    def circuit(self, key: str) -> dict[str, Any]:
        """The breaker's state for the admin console: closed, open, half-open or cooling down."""
        h = self._by_key.get(key)
        if h is None:
            return {"state": "closed", "consecutive_failures": 0, "last_failure_ago": None}
        now = self._clock()
        if now < h.cooldown_until:
            state = "cooling down"
        elif h.open_until:
            state = "half-open" if now >= h.open_until else "open"
        else:
            state = "closed"
        ago = None if h.last_failure == float("-inf") else round(now - h.last_failure, 1)
        return {"state": state, "consecutive_failures": h.consecutive_failures, "last_failure_ago": ago}

    # -- decisions ----------------------------------------------------------------------------

    def blocked(self, key: str) -> str | None:
        """Why the endpoint must be skipped now (circuit open or cooling down), or None."""
        h = self._by_key.get(key)
        if h is None:
            return None
        now = self._clock()
        if now < h.cooldown_until:
            return f"rate limited upstream; cooling down for {h.cooldown_until - now:.0f}s"
        if h.open_until:
            if now < h.open_until:
                return f"circuit open after repeated failures; next probe in {h.open_until - now:.0f}s"
            if h.probing:
                return "circuit half-open; a probe request is in flight"
            if self.shared and now >= h.probe_granted_until:
                return "circuit half-open; another replica sends the probe"
        return None

    def awaiting_probe(self) -> list[str]:
        """Shared mode: endpoints whose back-off ended and whose probe nobody here holds yet."""
        now = self._clock()
        return [k for k, h in self._by_key.items()
                if h.open_until and now >= h.open_until and not h.probing and now >= h.probe_granted_until]

    def grant_probe(self, key: str, seconds: float) -> None:
        """This replica won the fleet's half-open probe for `key` (for `seconds`)."""
        self._get(key).probe_granted_until = self._clock() + seconds

    def retry_in(self, key: str) -> tuple[bool, float] | None:
        """For a blocked endpoint: whether it is rate limited (else its circuit is open) and the
        seconds until it may be tried again."""
        h = self._by_key.get(key)
        if h is None:
            return None
        now = self._clock()
        if now < h.cooldown_until:
            return True, h.cooldown_until - now
        if h.open_until:
            return False, max(h.open_until - now, 1.0)
        return None

    def claim_probe(self, key: str) -> None:
        """The router sends a request to an endpoint whose back-off has ended: it is the probe."""
        h = self._by_key.get(key)
        if h is not None and h.open_until and self._clock() >= h.open_until:
            h.probing = True

    def recently_failed(self, key: str) -> bool:
        h = self._by_key.get(key)
        return h is not None and self._clock() - h.last_failure < RECENT_SECONDS

    def p50_throughput(self, key: str) -> float | None:
        p = percentiles(self._recent(self._by_key[key].throughput)) if key in self._by_key else None
        return p["p50"] if p else None

    def p50_latency(self, key: str) -> float | None:
        p = percentiles(self._recent(self._by_key[key].ttft_ms)) if key in self._by_key else None
        return p["p50"] if p else None

    def success_rate(self, key: str, seconds: float = WINDOW_SECONDS) -> float | None:
        h = self._by_key.get(key)
        if h is None:
            return None
        since = self._clock() - seconds
        outcomes = [ok for t, ok in h.outcomes if t >= since]
        return sum(outcomes) / len(outcomes) if outcomes else None

    def _recent(self, samples: deque[tuple[float, float]]) -> list[float]:
        since = self._clock() - WINDOW_SECONDS
        return [v for t, v in samples if t >= since]

    def snapshot(self, key: str) -> dict[str, Any]:
        """Live figures for `GET /models/.../endpoints` and the web UI."""
        h = self._by_key.get(key)
        if h is None:
            return {"status": 0, "uptime_last_5m": None, "uptime_last_30m": None, "uptime_last_1d": None,
                    "latency_last_30m": None, "throughput_last_30m": None, "request_count": 0}
        up30 = self.success_rate(key)
        status = 0
        if self.blocked(key):
            status = -3
        elif self.recently_failed(key) or (up30 is not None and up30 < 0.95):
            status = -2
        since = self._clock() - WINDOW_SECONDS
        return {
            "status": status,
            "uptime_last_5m": _pct(self.success_rate(key, 300)),
            "uptime_last_30m": _pct(up30),
            "uptime_last_1d": _pct(self.success_rate(key, 86400)),
            "latency_last_30m": percentiles(self._recent(h.ttft_ms)),
            "throughput_last_30m": percentiles(self._recent(h.throughput)),
            "request_count": sum(1 for t, _ in h.outcomes if t >= since),
        }


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)
