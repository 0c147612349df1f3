"""The responses this gateway answered, kept in memory so `previous_response_id` can continue them.

Bounded on both axes: a response lives `TTL_SECONDS` (1 hour) after it was stored, and at most
`MAX_RESPONSES` (10,000) are kept, the oldest dropped first. Nothing is written to disk, so a
restart forgets every stored response, and each replica knows only its own. A stored response
belongs to the key that created it; another key asking for it gets the same 404 as an unknown id.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from turnout.model.chat import Message
from turnout.model.errors import ErrorKind, GatewayError

TTL_SECONDS = 3600.0
MAX_RESPONSES = 10_000


@dataclass(frozen=True, slots=True)
class StoredResponse:
    key_hash: str | None
    model: str
    messages: tuple[Message, ...]  # the whole conversation, answer included, without instructions
    stored_at: float


class ResponseStore:
    def __init__(
        self, ttl: float = TTL_SECONDS, capacity: int = MAX_RESPONSES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, response_id: str, key_hash: str | None, model: str, messages: list[Message]) -> None:
        self._evict()
        self._items[response_id] = StoredResponse(key_hash, model, tuple(messages), self._clock())
        self._items.move_to_end(response_id)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, response_id: str, key_hash: str | None) -> StoredResponse:
        self._evict()
        item = self._items.get(response_id)
        if item is None or item.key_hash != key_hash:
            raise GatewayError(
                ErrorKind.CALLER_INVALID_REQUEST,
                f"Previous response with id '{response_id}' not found.",
                status=404,
                param="previous_response_id",
                metadata={"param": "previous_response_id", "code": "previous_response_not_found"},
            )
        return item

    def _evict(self) -> None:
        """Drop expired responses: insertion order is expiry order, so only the head is looked at."""
        limit = self._clock() - self._ttl
        while self._items:
            oldest = next(iter(self._items.values()))
            if oldest.stored_at > limit:
                break
            self._items.popitem(last=False)
