"""Per-key rate limits: requests per minute and tokens per minute, answered with 429 + Retry-After.

Counting uses a sliding window approximated from two fixed windows (the previous minute weighed
by how much of it still overlaps the last 60 seconds), kept in a `Counters` store: in memory for
one process, or Redis so that replicas share the counts. Requests are counted when admitted;
requests refused after authentication (an invalid body, an unknown model) are counted
too; tokens are counted when a request settles, so a token limit stops the requests after the one
that crossed it. A key's own `rate_limit_rpm`/`rate_limit_tpm` overrides the server default;
0 means unlimited. A key with no limit costs nothing here (no counter is touched).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from turnout.core.money.keys import KeyState
from turnout.model.errors import ErrorKind, GatewayError
from turnout.store.base import Counters

WINDOW = 60
MAX_RATE = 1_000_000_000  # requests or tokens per minute: past this a limit means nothing, and must fit a column
T = TypeVar("T")


def estimate(cur: int, prev: int, now: float) -> float:
    """Events in the sliding window that ends now."""
    elapsed = (now % WINDOW) / WINDOW
    return prev * (1.0 - elapsed) + cur


def retry_after(cur: int, prev: int, room: float, now: float) -> int:
    """Whole seconds until the sliding estimate is at most `room`, if nothing new is counted."""
    idx = int(now // WINDOW)
    for wait in range(1, 2 * WINDOW + 1):
        later = now + wait
        shift = int(later // WINDOW) - idx
        counts = (cur, prev) if shift == 0 else (0, cur) if shift == 1 else (0, 0)
        if estimate(*counts, later) <= room:
            return wait
    return 2 * WINDOW


class RateLimiter:
    def __init__(self, counters: Counters, default_rpm: int | None, default_tpm: int | None) -> None:
        self.counters = counters
        self.default_rpm = default_rpm or 0
        self.default_tpm = default_tpm or 0

    def limits(self, key: KeyState) -> tuple[int, int]:
        rpm = self.default_rpm if key.rate_limit_rpm is None else key.rate_limit_rpm
        tpm = self.default_tpm if key.rate_limit_tpm is None else key.rate_limit_tpm
        return rpm, tpm

    async def admit(self, key: KeyState | None) -> None:
        """Count one request against the key, or raise a 429 (the refused request is not counted)."""
        if key is None:
            return
        rpm, tpm = self.limits(key)
        if not (rpm or tpm):
            return
        now = time.time()
        if tpm:
            cur, prev = await self.counters.read(f"tpm:{key.hash}", WINDOW, now)
            if estimate(cur, prev, now) >= tpm:
                raise _limited(f"{tpm} tokens per minute", retry_after(cur, prev, tpm - 1, now))
        if rpm:
            name = f"rpm:{key.hash}"
            cur, prev = await self.counters.add(name, 1, WINDOW, now)
            if estimate(cur, prev, now) > rpm:
                await self.counters.add(name, -1, WINDOW, now)
                raise _limited(f"{rpm} requests per minute", retry_after(cur - 1, prev, rpm - 1, now))

    async def parsing(self, key: KeyState, parse: Callable[[], T]) -> T:
        """`parse()` of an authenticated request; if it refuses the request (a 400), the refusal
        counts against the key's request rate too (a 429 instead once over the limit), so that
        invalid requests cannot be sent faster than valid ones."""
        try:
            return parse()
        except GatewayError:
            await self.admit(key)
            raise

    def count_tokens(self, key: KeyState | None, tokens: int) -> None:
        if key is None or tokens <= 0:
            return
        if self.limits(key)[1]:
            self.counters.add_later(f"tpm:{key.hash}", tokens, WINDOW, time.time())


def _limited(what: str, wait: int) -> GatewayError:
    return GatewayError(ErrorKind.POLICY_RATE_LIMITED, f"Rate limit exceeded: this key may make {what}",
                        metadata={"error_type": "rate_limit_exceeded"}, retry_after=wait)
