"""The responses this gateway answered, kept in memory so `previous_response_id` can continue them.

Bounded per key and as a whole. A response lives `TTL_SECONDS` (1 hour) after it was stored. Each
key keeps at most `per_key` responses (1,000) adding up to at most `per_key_bytes` (32 MB, counted
roughly as the characters of text, URLs and arguments): past its own quota, a key's oldest responses
go first, so one key can never push out another key's. The whole store keeps at most `capacity`
(10,000) responses and `max_bytes` (256 MB); when many keys together pass that, the key holding the
most bytes loses its oldest response first. This is the cache in front of the shared, persistent
copy in the database (api/responses/chains.py), which lets a chain continue on any replica and
after a restart. A stored response belongs to the key that
created it; another key asking for it gets the same 404 as an unknown id.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from turnout.model.chat import Message
from turnout.model.errors import ErrorKind, GatewayError

TTL_SECONDS = 3600.0
MAX_RESPONSES = 10_000
MAX_BYTES = 256 * 1024 * 1024
PER_KEY = 1_000
PER_KEY_BYTES = 32 * 1024 * 1024


def approximate_size(messages: list[Message]) -> int:
    """Characters held by a conversation: text and media URLs (images as data: URLs dominate)."""
    total = 0
    for m in messages:
        if isinstance(m.content, str):
            total += len(m.content)
        elif m.content:
            for p in m.content:
                total += sum(len(v) for v in (getattr(p, a, None) for a in ("text", "url", "file_data", "data"))
                             if isinstance(v, str))
        total += len(m.reasoning or "") + sum(len(c.arguments) + len(c.name) for c in m.tool_calls or ())
        total += sum(len(str(d)) for d in m.reasoning_details or ())
    return total + 64 * len(messages)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    key_hash: str | None
    model: str
    messages: tuple[Message, ...]  # the whole conversation, answer included, without instructions
    stored_at: float
    size: int
    response: bytes | None = None  # the response object as answered (JSON), for GET /responses/{id}


@dataclass(slots=True)
class _Holding:
    """One key's stored responses, oldest first, and their size."""

    ids: OrderedDict[str, None]
    size: int = 0


class ResponseStore:
    def __init__(
        self, ttl: float = TTL_SECONDS, capacity: int = MAX_RESPONSES, max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic, *, per_key: int = PER_KEY, per_key_bytes: int = PER_KEY_BYTES,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._per_key = min(per_key, capacity)
        self._per_key_bytes = min(per_key_bytes, max_bytes)
        self._clock = clock
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._keys: dict[str | None, _Holding] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def held(self, key_hash: str | None) -> tuple[int, int]:
        """(responses, bytes) the key holds."""
        holding = self._keys.get(key_hash)
        return (0, 0) if holding is None else (len(holding.ids), holding.size)

    def put(
        self, response_id: str, key_hash: str | None, model: str, messages: list[Message],
        response: dict[str, Any] | bytes | None = None, *, age: float = 0.0,
    ) -> StoredResponse | None:
        """Keep a response (`age`: seconds since it was made, for one read back from the database);
        returns what was kept, or None when it is larger than a key's whole quota."""
        self._evict()
        # The response object echoes what the request sent (instructions, tools, metadata): kept as
        # its JSON, and counted at its real size.
        blob = response if isinstance(response, bytes) or response is None else orjson.dumps(response)
        size = approximate_size(messages) + (len(blob) if blob is not None else 0)
        item = StoredResponse(key_hash, model, tuple(messages), self._clock() - age, size, blob)
        if item.size > self._per_key_bytes:
            return None  # larger than a key's whole quota: continuing it needs the full input again
        self._drop(response_id)
        self._items[response_id] = item
        holding = self._keys.setdefault(key_hash, _Holding(OrderedDict()))
        holding.ids[response_id] = None
        holding.size += item.size
        self._bytes += item.size
        while len(holding.ids) > self._per_key or holding.size > self._per_key_bytes:
            self._drop(next(iter(holding.ids)))  # this key's own oldest
        while len(self._items) > self._capacity or self._bytes > self._max_bytes:
            heaviest = max(self._keys.values(), key=lambda h: (h.size, len(h.ids)))
            self._drop(next(iter(heaviest.ids)))
        return item

    def has(self, response_id: str) -> bool:
        item = self._items.get(response_id)
        return item is not None and item.stored_at > self._clock() - self._ttl

    def get(self, response_id: str, key_hash: str | None) -> StoredResponse:
        self._evict()
        item = self._items.get(response_id)
        if item is not None and item.stored_at <= self._clock() - self._ttl:
            item = None  # read back from the database older than its place in the expiry order
        if item is None or item.key_hash != key_hash:
            raise GatewayError(
                ErrorKind.CALLER_INVALID_REQUEST,
                f"Previous response with id '{response_id}' not found.",
                status=404,
                param="previous_response_id",
                metadata={"param": "previous_response_id", "code": "previous_response_not_found"},
            )
        return item

    def delete(self, response_id: str) -> None:
        self._drop(response_id)

    def _evict(self) -> None:
        """Drop expired responses: insertion order is expiry order, so only the head is looked at."""
        limit = self._clock() - self._ttl
        while self._items:
            oldest = next(iter(self._items.values()))
            if oldest.stored_at > limit:
                break
            self._drop(next(iter(self._items)))

    def _drop(self, response_id: str) -> None:
        item = self._items.pop(response_id, None)
        if item is None:
            return
        self._bytes -= item.size
        holding = self._keys[item.key_hash]
        del holding.ids[response_id]
        holding.size -= item.size
        if not holding.ids:
            del self._keys[item.key_hash]
