"""Key changes pushed to every replica through Redis pub/sub (with `redis_url`).

Whoever changes a key in the store (an admin route on any replica, or `turnout keys ...`) publishes
the key's new record on the installation's channel; every replica's listener applies it to its
`KeyCache` at once, so a key created, disabled, re-limited or deleted anywhere takes effect
everywhere within milliseconds. The store stays the truth: the record is published only after the
store committed it, and the key refresher's polling (runtime.py) still runs, so a message lost to
a Redis outage is caught up by the next poll. A message is a key record in JSON (no secret: the
store keeps only the keyed hash, and so does the message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import orjson

from turnout.store.base import KeyRecord

log = logging.getLogger("turnout.keys")

RECONNECT_SECONDS = 1.0
MAX_MESSAGE_BYTES = 64 * 1024  # a key record is a few hundred bytes; anything bigger is not ours


def encode(record: KeyRecord) -> bytes:
    return orjson.dumps(asdict(record), default=str)


def decode(data: bytes | str) -> KeyRecord:
    raw: dict[str, Any] = orjson.loads(data)
    limit = raw.get("limit")
    raw["limit"] = None if limit is None else Decimal(str(limit))
    raw["usage"] = Decimal(str(raw["usage"]))
    return KeyRecord(**raw)


def publish_now(url: str, channel: str, record: KeyRecord) -> None:
    """From synchronous code (the CLI): publish once, quietly (polling catches up if Redis is away)."""
    try:
        import redis

        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.publish(channel, encode(record))
    except Exception as exc:
        log.warning("publishing a key change to Redis failed (%s); replicas will see it by polling", type(exc).__name__)


class KeyPush:
    def __init__(self, url: str, channel: str, apply: Callable[[KeyRecord], None]) -> None:
        import redis.asyncio as aioredis

        self._client: Any = aioredis.from_url(url, socket_timeout=None, socket_connect_timeout=2)
        self._channel = channel
        self._apply = apply
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()
        self.received = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="turnout-key-push")

    def publish(self, record: KeyRecord) -> None:
        """Tell every replica (on the loop, without waiting for Redis)."""
        task = asyncio.get_running_loop().create_task(self._publish(record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, record: KeyRecord) -> None:
        try:
            await self._client.publish(self._channel, encode(record))
        except Exception as exc:
            log.warning("publishing a key change to Redis failed (%s); replicas will see it by polling",
                        type(exc).__name__)

    async def _listen(self) -> None:
        down = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.subscribed.set()
                    if down:
                        log.warning("key changes: Redis answers again; changes are pushed")
                        down = False
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        data = message.get("data")
                        if not isinstance(data, bytes | str) or len(data) > MAX_MESSAGE_BYTES:
                            continue
                        try:
                            record = decode(data)
                        except Exception:  # not a record this code wrote: ignore it, polling is the truth
                            log.warning("ignored a malformed key-change message")
                            continue
                        self.received += 1
                        self._apply(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                if not down:
                    log.warning("key changes: Redis unreachable (%s); falling back to polling the store",
                                type(exc).__name__)
                    down = True
                await asyncio.sleep(RECONNECT_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()
