"""`Counters` in Redis, so that every replica of turnout counts against the same rate limits.

Each window is one Redis integer `turnout:rl:<name>:<window index>`, changed with INCRBY and
expiring after two windows; `add` reads the previous window in the same MULTI/EXEC, so the pair
it returns is consistent. Needs the `redis` extra (`pip install 'turnout[redis]'`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("turnout.redis")


class RedisCounters:
    def __init__(self, url: str, prefix: str = "turnout:rl:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("redis_url is set but the redis package is missing: pip install 'turnout[redis]'") from exc
        self._client: Any = aioredis.from_url(url, decode_responses=False)
        self._prefix = prefix
        self._pending: set[asyncio.Task[Any]] = set()

    def _names(self, name: str, window: int, now: float) -> tuple[str, str]:
        idx = int(now // window)
        return f"{self._prefix}{name}:{idx}", f"{self._prefix}{name}:{idx - 1}"

    async def add(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        cur, prev = self._names(name, window, now)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incrby(cur, amount)
            pipe.expire(cur, window * 2)
            pipe.get(prev)
            total, _, before = await pipe.execute()
        return int(total), int(before or 0)

    async def read(self, name: str, window: int, now: float) -> tuple[int, int]:
        cur, prev = self._names(name, window, now)
        a, b = await self._client.mget(cur, prev)
        return int(a or 0), int(b or 0)

    def add_later(self, name: str, amount: int, window: int, now: float) -> None:
        task = asyncio.get_running_loop().create_task(self._add_quietly(name, amount, window, now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _add_quietly(self, name: str, amount: int, window: int, now: float) -> None:
        try:
            await self.add(name, amount, window, now)
        except Exception:  # a token count lost to a Redis outage only loosens a limit for a minute
            log.warning("counting %s in Redis failed", name, exc_info=True)

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()
