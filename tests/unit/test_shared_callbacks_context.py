"""Callbacks shared by every request run in a context of their own, never in the request's that
happened to arm them: the JSON log names a record's request from the context (logs.JSONFormatter),
so a shutdown line logged from a request's context carried that request's generation id (seen in
CI: tests/operations/test_json_logs.py)."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

from turnout.api.disconnect import WATCH_AFTER, ClientWatch, Watches
from turnout.logs import BatchedHandler, JSONFormatter
from turnout.observe.observer import CURRENT, SETTLE_WAIT, Observer, Slot
from turnout.observe.shutdown import Drain


class FakeCtx:
    id = "gen-1-request"


def in_a_request() -> Slot:
    """This task's context as a request's: a slot holding a context with a generation id."""
    slot = Slot()
    slot.ctx = FakeCtx()  # type: ignore[assignment]
    CURRENT.set(slot)
    return slot


def seen() -> Any:
    slot = CURRENT.get()
    return None if slot is None else slot.ctx


def test_the_observers_batch_is_settled_outside_the_request_that_armed_it() -> None:
    contexts: list[Any] = []
    observer = Observer(None, line=lambda *a: contexts.append(seen()))
    requests = logging.getLogger("turnout.requests")
    level = requests.level
    requests.setLevel(logging.INFO)

    async def main() -> None:
        in_a_request()
        observer._pending.append((object(), None, None, 0.0, None, None))  # type: ignore[arg-type]
        observer._schedule()
        await asyncio.sleep(SETTLE_WAIT * 3)

    try:
        asyncio.run(main())
    finally:
        requests.setLevel(level)
    assert contexts == [None]


def test_a_log_batch_is_written_outside_the_request_that_armed_it() -> None:
    contexts: list[Any] = []

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            contexts.append(seen())
            return super().write(text)

    handler = BatchedHandler(Stream())

    async def main() -> None:
        in_a_request()
        handler.line("a request line\n")
        await asyncio.sleep(BatchedHandler.WAIT * 3)

    asyncio.run(main())
    assert contexts == [None]


def test_the_shutdown_line_names_no_request() -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    capture = Capture()
    capture.setFormatter(JSONFormatter())
    logger = logging.getLogger("turnout")
    logger.addHandler(capture)
    level = logger.level
    logger.setLevel(logging.INFO)
    observer = Observer(None)
    drain = Drain(observer, grace=0.01)

    async def main() -> None:
        drain.loop = asyncio.get_running_loop()
        in_a_request()
        drain._on_term(15, None)  # as if SIGTERM came while this request's code ran
        await asyncio.sleep(0.05)
        drain.close()

    try:
        asyncio.run(main())
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
    shutdown = [line for line in lines if "shutdown:" in line]
    assert len(shutdown) == 1 and "generation_id" not in shutdown[0], lines


def test_the_disconnect_watch_starts_outside_the_request_that_armed_the_timer() -> None:
    contexts: list[Any] = []
    watches = Watches()

    async def main() -> None:
        in_a_request()
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"{}", "more_body": False}
            contexts.append(seen())  # the watcher's wait for a disconnect
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        watch = ClientWatch(receive, watches)
        await watch.receive()
        await asyncio.sleep(WATCH_AFTER * 3)
        watch.stop()

    asyncio.run(main())
    assert contexts == [None]
