"""SSE serialization: events and comments -> bytes for the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.responses import Response

from turnout.model.stream import StreamEvent

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": TURNOUT PROCESSING\n\n"


class Encoder(Protocol):
    """A dialect's stream encoder: one canonical event in, zero or more wire frames out."""

    def encode(self, event: StreamEvent) -> bytes: ...


async def frames(encoder: Encoder, events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    """The wire frames of a canonical stream, skipping events that encode to nothing."""
    async for event in events:
        frame = encoder.encode(event)
        if frame:
            yield frame


def data_frame(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def event_frame(event: str, obj: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class EventStream(Response):
    """An SSE response (an ASGI app, like Starlette's responses): frames go out as they come.

    Lighter than Starlette's `StreamingResponse` (no task group per response; one small watcher
    task): a client that goes away cancels the task producing the frames, so the upstream request
    is dropped at once and the generation is recorded as cancelled.
    """

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> None:
        self.frames = frames
        self.status_code = 200
        self.background = None
        raw = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no"}
        raw.update(headers or {})
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in raw.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        task = asyncio.current_task()
        assert task is not None
        state = {"streaming": True, "gone": False}

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if state["streaming"]:  # not the "response complete" wake-up at the end
                        state["gone"] = True
                        task.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for frame in self.frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            state["streaming"] = False
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["gone"]:
                raise
            task.uncancel()  # our own cancellation: the client left; nothing more to send
        finally:
            state["streaming"] = False
            watcher.cancel()
            closer = getattr(self.frames, "aclose", None)
            if closer is not None:
                await closer()
