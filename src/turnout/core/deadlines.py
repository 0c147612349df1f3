"""A request's overall deadline (`request_timeout`), without a timer per request.

`asyncio.timeout` arms (and on exit cancels) one loop timer per request: about 6 % of the samples
of a chat completion in bench/'s profile. The deadline is 600 s by default and nothing
needs it to the millisecond, so one `Deadlines` per gateway keeps the requests in their upstream
phase in a set and looks at them every `tick` (a twentieth of `request_timeout`, at most 0.25 s)
while any is there; a request past its deadline has its task cancelled, and its `Phase` turns
that cancellation into the timeout error when it unwinds, as `asyncio.timeout` does.

`Phase` is also where a failure before the answer exists is recorded
(`RequestContext.record_failure`), and what a graceful shutdown ends early (observe/shutdown.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from types import TracebackType
from typing import TYPE_CHECKING

from turnout.core.streaming import request_timed_out
from turnout.observe.shutdown import shutting_down_error

if TYPE_CHECKING:
    from turnout.core.context import RequestContext


class Deadlines:
    __slots__ = ("handle", "live", "tick", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.tick = min(0.25, max(0.005, timeout / 20))
        self.live: set[Phase] = set()
        self.handle: asyncio.TimerHandle | None = None

    def phase(self, ctx: RequestContext) -> Phase:
        return Phase(self, ctx)

    def _add(self, phase: Phase) -> None:
        self.live.add(phase)
        if self.handle is None:
            self.handle = asyncio.get_running_loop().call_later(self.tick, self._sweep, context=contextvars.Context())

    def _sweep(self) -> None:
        now = time.perf_counter()
        for phase in [p for p in self.live if p.ctx.deadline <= now]:
            phase.fire()
        self.handle = (asyncio.get_running_loop().call_later(self.tick, self._sweep, context=contextvars.Context())
                       if self.live else None)


class Phase:
    """`async with deadlines.phase(ctx):` around the part of a request before its answer exists."""

    __slots__ = ("_cancelling", "ctx", "deadlines", "fired", "task")

    def __init__(self, deadlines: Deadlines, ctx: RequestContext) -> None:
        self.deadlines = deadlines
        self.ctx = ctx
        self.fired = False
        self.task: asyncio.Task[object] | None = None
        self._cancelling = 0

    async def __aenter__(self) -> Phase:
        ctx = self.ctx
        ctx.deadline = ctx.started + self.deadlines.timeout
        task = self.task = asyncio.current_task()
        self._cancelling = task.cancelling() if task is not None else 0
        ctx.phase = self
        self.deadlines._add(self)
        if time.perf_counter() >= ctx.deadline:
            self.fire()
        return self

    def fire(self) -> None:
        """End the phase now: its task is cancelled, and the phase raises the timeout error."""
        if not self.fired and self.task is not None:
            self.fired = True
            self.task.cancel()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.deadlines.live.discard(self)
        ctx = self.ctx
        ctx.phase = None
        if self.fired and self.task is not None and self.task.uncancel() <= self._cancelling \
                and kind is asyncio.CancelledError:
            error = shutting_down_error() if ctx.shutting_down else request_timed_out(self.deadlines.timeout)
            ctx.record_failure(error)
            raise error from None
        if exc is not None:
            ctx.record_failure(exc)
