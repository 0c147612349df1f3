"""The `Server-Timing` header on every answer: the gateway's own time and the upstream's.

`gateway;dur=` is the time from the request's arrival to its answer's first byte less the time
spent waiting on upstream attempts (`upstream;dur=`); `total;dur=` is their sum. For a stream
the answer starts at the first event, so the figures cover the time to it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from turnout.observe.observer import Slot

Send = Callable[[dict[str, Any]], Awaitable[None]]


def server_timing(slot: Slot) -> bytes:
    """The header's value, as of now (the answer's first byte)."""
    total = (time.perf_counter() - slot.started) * 1000
    upstream = 0.0
    ctx = slot.ctx
    if ctx is not None:
        for a in ctx.attempts:
            upstream += a.ms
    return b"gateway;dur=%.2f, upstream;dur=%.2f, total;dur=%.2f" % (max(total - upstream, 0.0), upstream, total)


def timed_send(send: Send, slot: Slot) -> Send:
    """`send` with the header added to the answer's start (routes answered through Starlette; the
    inference routes add it to their `Response` directly, app.py)."""
    async def send_timed(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (b"server-timing", server_timing(slot))]
        await send(message)

    return send_timed
