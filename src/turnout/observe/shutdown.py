"""Graceful shutdown: on SIGTERM (or a first Ctrl-C), running requests get `shutdown_grace` seconds, then an error.

uvicorn stops accepting at SIGTERM and waits for open connections; `turnout serve` gives it the
grace plus a margin (cli.py). This module, installed at start-up, chains uvicorn's SIGTERM
handler: when the grace has passed, every request still running has its deadline moved to now,
so a stream ends at its next event (or keep-alive tick) with an in-band error event and a
generation record, and a request still waiting on its upstream is answered with an error
(core/streaming.py and core/gateway.py check the deadline). The lifespan's shutdown then drains
the accounting queue and the journal (Runtime.close).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from turnout.observe.observer import Observer

log = logging.getLogger("turnout")
SIGNALS = (signal.SIGTERM, signal.SIGINT)  # a supervisor's stop, and Ctrl-C


def shutting_down_error() -> Any:
    from turnout.model.errors import ErrorKind, GatewayError

    return GatewayError(ErrorKind.PROVIDER_OVERLOADED, "the gateway is shutting down; retry the request",
                        status=503, metadata={"shutdown": True})


def expire(observer: Observer) -> int:
    """End every running request now (in-band): returns how many there were."""
    observer.draining = True
    now = time.perf_counter()
    live = list(observer.live.values())
    for ctx in live:
        ctx.shutting_down = True
        ctx.deadline = min(ctx.deadline, now)
        phase = ctx.phase
        if phase is not None:
            phase.fire()
    return len(live)


class Drain:
    """Installed in the lifespan: on SIGTERM, schedules `expire` after the grace."""

    def __init__(self, observer: Observer, grace: float) -> None:
        self.observer = observer
        self.grace = grace
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # an app embedded in a thread (tests): its host owns the signals
        self.loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_term)

    def _on_term(self, sig: int, frame: FrameType | None) -> None:
        previous = self._previous.get(sig)
        if callable(previous):
            previous(sig, frame)  # uvicorn's: stop accepting, wait for the connections (a second Ctrl-C quits)
        if self.loop is not None and self.task is None:
            # in a context of its own: the signal may have come in the middle of a request's code,
            # whose context (its generation id, for the JSON log) is not the shutdown's
            self.loop.call_soon_threadsafe(self._start, context=contextvars.Context())

    def _start(self) -> None:
        if self.task is None:
            self.observer.draining = True
            log.info("shutdown: %d requests running get up to %gs to finish", len(self.observer.live), self.grace)
            self.task = asyncio.get_running_loop().create_task(self._expire_later(), name="turnout-drain")

    async def _expire_later(self) -> None:
        deadline = time.monotonic() + self.grace
        while self.observer.live and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.observer.live:
            n = expire(self.observer)
            log.warning("shutdown grace of %gs passed: %d requests ended with an error", self.grace, n)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
