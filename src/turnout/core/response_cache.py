"""Response caching (OpenRouter's `X-OpenRouter-Cache`): a complete answer replayed for the same request.

Opt-in per request (`X-OpenRouter-Cache: true`, or turnout's alias `X-Turnout-Cache`), per preset
(`cache_enabled`, `cache_ttl_seconds`) or per key in the config (`response_cache_keys`). The cache
key is the API key, model, endpoint type (the inbound route), stream mode and a SHA-256 of the
request body as sent (property order matters; attribution headers are not part of it).

What is kept is the canonical answer (a `ChatResult`, or a stream's deltas and its finish), not
a dialect's bytes: a hit is re-encoded like any answer, with a new generation id, all billable
usage 0 and a cost of 0, and `X-OpenRouter-Cache-Source-Id` naming the generation that made it.
Only complete successful answers are stored. In memory by default (least recently used first
out, bounded by bytes), in Redis when `redis_url` is set, so that replicas share it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from turnout.model.chat import ToolCall
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import Finish, ReasoningDelta, StreamEvent, StreamFailure, TextDelta, ToolCallDelta

log = logging.getLogger("turnout.cache")

MIN_TTL, MAX_TTL, DEFAULT_TTL = 1, 86_400, 300
HEADERS = ("x-openrouter-cache", "x-turnout-cache")
TTL_HEADERS = ("x-openrouter-cache-ttl", "x-turnout-cache-ttl")


@dataclass(slots=True)
class CachePolicy:
    key: str
    ttl: int


@dataclass(slots=True)
class Cached:
    source_id: str
    endpoint_key: str
    result: ChatResult | None = None  # a whole answer
    events: list[StreamEvent] | None = None  # a stream's deltas and finish (usage is not kept)

    def size(self) -> int:
        if self.result is not None:
            r = self.result
            return 256 + len(r.content or "") + len(r.reasoning or "") + sum(
                len(c.arguments) + len(c.name) for c in r.tool_calls or ())
        return 256 + sum(64 + len(getattr(e, "text", None) or "") + len(getattr(e, "arguments", "") or "")
                         for e in self.events or ())


def ttl_of(value: Any) -> int:
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        return DEFAULT_TTL
    return min(max(ttl, MIN_TTL), MAX_TTL)


def policy(headers: Mapping[str, str], *, key_hash: str | None, key_name: str | None, model: str, endpoint_type: str,
           streamed: bool, body: bytes | None, preset_ttl: int | None, keys_always: frozenset[str],
           default_ttl: int) -> CachePolicy | None:
    """The request's cache policy, or None when it is not cached (the common case: two lookups)."""
    ttl: int | None = None
    for name in HEADERS:
        flag = headers.get(name)
        if flag is not None:
            if flag.strip().lower() not in ("true", "1", "yes"):
                return None
            ttl = default_ttl
            for ttl_name in TTL_HEADERS:
                if headers.get(ttl_name) is not None:
                    ttl = ttl_of(headers[ttl_name])
            break
    if ttl is None:
        if preset_ttl is not None:
            ttl = preset_ttl
        elif key_name is not None and key_name in keys_always:
            ttl = default_ttl
        else:
            return None
    if body is None or key_hash is None:
        return None
    digest = hashlib.sha256(body).hexdigest()
    return CachePolicy(f"{key_hash}|{model}|{endpoint_type}|{int(streamed)}|{digest}", ttl)


class MemoryEntries:
    """LRU entries with expiry, bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[float, int, Cached]] = OrderedDict()

    def get(self, key: str) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, size, cached = entry
        if expires < time.monotonic():
            del self._entries[key]
            self.bytes -= size
            return None
        self._entries.move_to_end(key)
        return cached

    def put(self, key: str, cached: Cached, ttl: int) -> None:
        size = cached.size()
        if size > self.max_bytes // 8:  # one answer never takes more than an eighth of the cache
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (time.monotonic() + ttl, size, cached)
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            _, (_, evicted, _) = self._entries.popitem(last=False)
            self.bytes -= evicted


# -- a JSON codec for the shared (Redis) form ---------------------------------------------------

_EVENTS: dict[str, type[Any]] = {"text": TextDelta, "reasoning": ReasoningDelta, "tool": ToolCallDelta, "finish": Finish}
_TAGS = {cls: tag for tag, cls in _EVENTS.items()}


def encode(cached: Cached) -> bytes:
    out: dict[str, Any] = {"source_id": cached.source_id, "endpoint_key": cached.endpoint_key}
    if cached.result is not None:
        result = asdict(cached.result)
        result["usage"] = None
        out["result"] = result
    else:
        out["events"] = [[_TAGS[type(e)], asdict(e)] for e in cached.events or ()]
    return orjson.dumps(out)


def decode(raw: bytes) -> Cached:
    d = orjson.loads(raw)
    cached = Cached(d["source_id"], d["endpoint_key"])
    if "result" in d:
        r = d["result"]
        r["tool_calls"] = [ToolCall(**c) for c in r.get("tool_calls") or ()] or None
        cached.result = ChatResult(**r)
    else:
        cached.events = [_EVENTS[tag](**fields) for tag, fields in d["events"]]
    return cached


class ResponseCache:
    def __init__(self, max_bytes: int, redis_url: str | None = None, namespace: str = "turnout") -> None:
        self.memory = MemoryEntries(max_bytes)
        self._redis: Any = None
        self._prefix = f"{namespace}:rcache:"
        if redis_url:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def get(self, key: str) -> Cached | None:
        if self._redis is None:
            return self.memory.get(key)
        try:
            raw = await self._redis.get(self._prefix + hashlib.sha256(key.encode()).hexdigest())
        except Exception as exc:  # a cache outage is a miss, never a failed request
            log.warning("response cache: Redis get failed (%s); serving uncached", type(exc).__name__)
            return None
        return decode(raw) if raw else None

    async def put(self, key: str, cached: Cached, ttl: int) -> None:
        if self._redis is None:
            self.memory.put(key, cached, ttl)
            return
        try:
            await self._redis.set(self._prefix + hashlib.sha256(key.encode()).hexdigest(), encode(cached), ex=ttl)
        except Exception as exc:
            log.warning("response cache: Redis set failed (%s)", type(exc).__name__)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


async def recorded(events: AsyncIterator[StreamEvent], max_bytes: int,
                   store: Callable[[list[StreamEvent]], Awaitable[None]]) -> AsyncIterator[StreamEvent]:
    """Pass a stream through, keeping its deltas and finish; store them once it finished cleanly."""
    kept: list[StreamEvent] = []
    size = 0
    finished = False
    async for event in events:
        if isinstance(event, TextDelta | ReasoningDelta | ToolCallDelta):
            size += 64 + len(getattr(event, "text", None) or "") + len(getattr(event, "arguments", "") or "")
            if size <= max_bytes:
                kept.append(event)
        elif isinstance(event, Finish):
            kept.append(event)
            finished = True
        elif isinstance(event, StreamFailure):
            finished = False
        yield event
    if finished and size <= max_bytes:
        await store(kept)


def zero_usage() -> Usage:
    return Usage()
