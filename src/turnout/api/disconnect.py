"""Noticing a client that leaves before its answer starts.

An inference route reads its body, then waits on routing, admission and the upstream call, which
may take minutes. A client that hangs up meanwhile must not leave the upstream call and its hold
running on to the read timeout. `ClientWatch` wraps one request's ASGI `receive`: once the body's
last part has been read and the answer is still not there `WATCH_AFTER` later, one small task
waits on `receive()`, which now only answers when the client disconnects; then it cancels the
request's task. (A timer costs far less than a task, and most answers come sooner.) The cancellation reaches the upstream
call (its connection is closed, never pooled half-read: core/upstream/http.py, core/upstream/transport.py) and is
recorded, with the hold released, by `RequestContext.recording_failures`.

The front door (app.py) stops the watcher as soon as the handler has an answer: a streamed answer
watches for itself from then on (api/sse.py). A request that fails before its body is read whole
never starts one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]


WATCH_AFTER = 0.05  # seconds: a request answered sooner never starts a watcher task


class ClientWatch:
    __slots__ = ("_receive", "_task", "_timer", "_watcher", "gone")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.gone = False  # the client disconnected and the request's task was cancelled for it

    async def receive(self) -> Message:
        """The ASGI `receive` for the handler: arms the watcher after the body's last part."""
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False) and self._task is None:
            self._task = asyncio.current_task()
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)
        return message

    def _start(self) -> None:
        self._timer = None
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        message = await self._receive()
        if message["type"] == "http.disconnect" and self._task is not None:
            self.gone = True
            self._task.cancel()

    def stop(self) -> None:
        """The handler is done waiting (answered or failed): no more watching."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
