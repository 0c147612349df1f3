"""Noticing a client that leaves before its answer starts.

An inference route reads its body, then waits on routing, admission and the upstream call, which
may take minutes. A client that hangs up meanwhile must not leave the upstream call and its hold
running on to the read timeout. `ClientWatch` wraps one request's ASGI `receive`: once the body's
last part has been read and the answer is still not there `WATCH_AFTER` later, one small task
waits on `receive()`, which now only answers when the client disconnects; then it cancels the
request's task. (One timer per app looks at the armed watches, `Watches`: a timer per request
would cost more than the rest of the watch, and most answers come sooner.) The cancellation reaches the upstream
call (its connection is closed, never pooled half-read: core/upstream/http.py, core/upstream/transport.py) and is
recorded, with the hold released, by `RequestContext.recording_failures`.

The front door (app.py) stops the watcher as soon as the handler has an answer: a streamed answer
watches for itself from then on (api/sse.py). A request that fails before its body is read whole
never starts one.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]


WATCH_AFTER = 0.05  # seconds: a request answered sooner never starts a watcher task


class Watches:
    """One per app: the watches armed and not yet started, looked at every `WATCH_AFTER` while
    there are any (one timer for all of them, rather than one per request)."""

    __slots__ = ("armed", "handle", "loop")

    def __init__(self) -> None:
        self.armed: dict[ClientWatch, float] = {}  # -> loop time it was armed
        self.handle: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def arm(self, watch: ClientWatch) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # an app served by a new loop (tests): the old one's timer is gone
            self.loop, self.handle = loop, None
            self.armed.clear()
        self.armed[watch] = loop.time()
        if self.handle is None:
            self.handle = loop.call_later(WATCH_AFTER, self._tick, context=contextvars.Context())  # not the arming request's

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() - WATCH_AFTER
        for watch in [w for w, since in self.armed.items() if since <= due]:
            del self.armed[watch]
            watch._start()
        self.handle = loop.call_later(WATCH_AFTER, self._tick, context=contextvars.Context()) if self.armed else None


class ClientWatch:
    __slots__ = ("_receive", "_task", "_watcher", "_watches", "gone")

    def __init__(self, receive: Receive, watches: Watches) -> None:
        self._receive = receive
        self._watches = watches
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.gone = False  # the client disconnected and the request's task was cancelled for it

    async def receive(self) -> Message:
        """The ASGI `receive` for the handler: arms the watcher after the body's last part."""
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False) and self._task is None:
            self._task = asyncio.current_task()
            self._watches.arm(self)
        return message

    def _start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        message = await self._receive()
        if message["type"] == "http.disconnect" and self._task is not None:
            self.gone = True
            self._task.cancel()

    def stop(self) -> None:
        """The handler is done waiting (answered or failed): no more watching."""
        if self._task is not None:
            self._watches.armed.pop(self, None)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def left(self) -> bool:
        """Whether a `CancelledError` the handler raised is this watcher's doing: the client left.
        If so, the task's cancellation is taken back (nothing else asked for it)."""
        if not self.gone or self._task is None:
            return False
        self._task.uncancel()
        return True
