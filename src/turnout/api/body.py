"""Reading a JSON request body within bounds; bad bodies become 400/413/415/503 in the caller's dialect.

A content type that cannot carry a JSON document (a multipart form, an image ...) is a 415; no
content type, JSON, text and curl's default form type are read as JSON.

Three bounds, each checked before the work it guards (docs/security.md, "Request limits"):

- the route's size limit (`max_body_bytes` for inference, `max_small_body_bytes` for key management):
  a declared Content-Length over it is refused before a byte is read, a chunked body as soon as it
  passes it;
- the JSON value count (`max_json_values`): parsed objects take up to ~24 times their text
  (`[{},{},...]`) and as long to build, so a large body's separators and containers are counted as
  it arrives and it is refused before it is parsed;
- a per-process memory budget for request bodies (`body_budget_bytes`). A body takes its announced
  Content-Length before its first byte is read (a chunked one takes bytes as they come); once
  parsed it holds an estimate of its parsed size instead, until its answer ends (`TurnoutApp`
  gives it back, see `release`). Past the budget a read waits its turn (at most `body_timeout`),
  then gets a 503. Parsed bodies may fill up to twice the budget; past that, 503 as well.

The body is parsed on the event loop. orjson holds the GIL for a whole parse (measured: the loop
thread ran not once during a 400 ms parse in a worker thread), so a thread would only add a hop;
the value bound is what keeps the longest parse short.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import orjson
from starlette.requests import Request

from turnout.model.errors import ErrorKind, GatewayError

# Bodies up to this size are parsed without counting their values (counting would cost a small
# body a fifth of its parse), and held at their worst-case parsed size. Larger ones are counted
# chunk by chunk as they arrive.
COUNT_FROM = 16 * 1024
PARSED_PER_BYTE = 32  # an uncounted body's parsed size, at worst, per byte of its text
PARSED_PER_VALUE = 100  # a counted body's parsed size per JSON value, beyond its text
HELD = "turnout.body_held"  # the scope key: budget a request holds until its answer ends


class BodyBudget:
    """The bytes of request bodies one process holds before they are parsed, with a FIFO of waiters.

    Taking is an integer add on the common path (no allocation); only a read that finds the budget
    spent allocates a future to wait on. One body may always proceed when nothing else is held, so a
    budget smaller than a chunk cannot stall the process.
    """

    __slots__ = ("_waiters", "capacity", "used")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def try_take(self, n: int) -> bool:
        if not self._waiters and (self.used + n <= self.capacity or self.used == 0):
            self.used += n
            return True
        return False

    async def take(self, n: int, timeout: float) -> None:
        """Wait up to `timeout` seconds for `n` bytes, in turn; a 503 past it."""
        if self.try_take(n):
            return
        entry = (n, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(entry[1]), timeout)
        except TimeoutError:
            if not self._withdraw(entry):
                return  # granted as the wait ran out: the bytes are ours
            raise busy() from None
        except BaseException:
            if not self._withdraw(entry):
                self.give(n)
            raise

    def take_parsed(self, n: int, held: int) -> bool:
        """Take `n` more for a parsed body already holding `held`, without waiting (a body that
        waits while holding budget could wait on others doing the same): up to twice the budget,
        or beyond when that body is all there is."""
        if self.used + n <= 2 * self.capacity or self.used == held:
            self.used += n
            return True
        return False

    def give(self, n: int) -> None:
        self.used -= n
        if self._waiters:
            self._wake()

    def _withdraw(self, entry: tuple[int, asyncio.Future[None]]) -> bool:
        """Take a waiter out of the queue; False if it had already been granted its bytes."""
        if entry[1].done():
            return False
        entry[1].cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(entry)
        self._wake()  # it may have been the head that kept smaller ones waiting
        return True

    def _wake(self) -> None:
        while self._waiters:
            n, fut = self._waiters[0]
            if self.used + n > self.capacity and self.used != 0:
                return
            self._waiters.popleft()
            self.used += n
            fut.set_result(None)


class BodyReader:
    """Reads JSON bodies for every route of one process: the shared budget and value bound."""

    __slots__ = ("budget", "max_values", "wait")

    def __init__(self, budget_bytes: int, max_values: int, wait: float) -> None:
        self.budget = BodyBudget(budget_bytes)
        self.max_values = max_values
        self.wait = wait

    async def json(self, request: Request, limit: int) -> Any:
        """The parsed body of `request`, at most `limit` bytes (the route's own limit); the budget
        it holds is given back by `release` when the answer ends."""
        return await read_json(request, limit, self.budget, self.max_values, self.wait)

    def release(self, scope: dict[str, Any]) -> None:
        """Give back what the request of `scope` holds; called once its answer has ended."""
        held = scope.pop(HELD, 0)
        if held:
            self.budget.give(held)


_NOT_COUNTED = bytes(sorted(set(range(256)) - set(b",{[")))


def count_values(data: bytes | bytearray) -> int:
    """An upper bound on the JSON values in `data`: every value but a container's first is after a
    comma, and every container opens with a bracket (those inside strings count too). One pass
    (`translate`), a third of the cost of three `count`s."""
    return len(data.translate(None, _NOT_COUNTED))


# Media types that are never a JSON document, whatever the bytes say.
NOT_JSON = ("multipart/", "image/", "audio/", "video/", "font/", "model/")


async def read_json(request: Request, limit: int, budget: BodyBudget, max_values: int, wait: float) -> Any:
    """The parsed body of `request`, at most `limit` bytes and `max_values` values (see the module doc)."""
    media = request.headers.get("content-type")
    if media is not None:
        media = media.split(";", 1)[0].strip().lower()
        if media.startswith(NOT_JSON):
            raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST,
                               f"the request body must be JSON (Content-Type: application/json), not {media[:100]}",
                               status=415)
    held = 0
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        held = int(declared)
        if held > limit:
            raise too_large(limit)
        # The whole announced size at once: bodies that each hold part of the budget and wait for
        # more would wait for one another. A slow sender's share is bounded by the body deadline.
        if held and not budget.try_take(held):
            await budget.take(held, wait)
    # Straight from ASGI `receive`: Starlette's `Request.stream()` costs more than the JSON parse.
    body: bytes | bytearray = b""
    size = 0
    values = 0
    receive = request.receive
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                raise GatewayError(ErrorKind.CALLER_CANCELLED, "the client disconnected while sending the body")
            chunk: bytes = message.get("body", b"")
            if chunk:
                n = len(chunk)
                size += n
                if size > limit:
                    raise too_large(limit)
                if size > held:  # a chunked body (no Content-Length): taken as it comes
                    more = size - held
                    if not budget.try_take(more):
                        if held:  # holding part and waiting for more could wait on others doing the same
                            raise busy()
                        await budget.take(more, wait)
                    held = size
                if size > COUNT_FROM:
                    # Count the chunk (and, the first time, what came before it), then keep it.
                    values += count_values(chunk) if size - n > COUNT_FROM else count_values(body) + count_values(chunk)
                    if values > max_values:
                        raise too_many_values(max_values)
                if not body:
                    body = chunk
                else:
                    if isinstance(body, bytes):
                        body = bytearray(body)  # grows in place (realloc), never a second full copy
                    body += chunk
            if not message.get("more_body", False):
                break
        if not body:
            raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, "the request body is empty; a JSON object is required")
        parsed = size * PARSED_PER_BYTE if size <= COUNT_FROM else size + values * PARSED_PER_VALUE
        if parsed > held:
            if not budget.take_parsed(parsed - held, held):
                raise busy()
            held = parsed
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise GatewayError(ErrorKind.CALLER_INVALID_REQUEST, f"the request body is not valid JSON: {exc}") from None
        # The parsed body lives as long as the request: the budget goes back when its answer ends.
        request.scope[HELD] = held
        held = 0
        return value
    finally:
        if held:
            budget.give(held)


def busy() -> GatewayError:
    return GatewayError(ErrorKind.GATEWAY_OVERLOADED,
                        "the gateway is reading too many request bodies at once; retry shortly", retry_after=1)


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        ErrorKind.CALLER_INVALID_REQUEST, f"the request body exceeds {limit} bytes", status=413
    )


def too_many_values(limit: int) -> GatewayError:
    return GatewayError(
        ErrorKind.CALLER_INVALID_REQUEST, f"the request body holds more than {limit} JSON values", status=413
    )
