"""Redis for state that replicas share: rate-limit `Counters`, and budget `Holds`.

Holds: one Redis hash per scope (a key's limit period, or an account) with the scope's spend and
one field per request in flight; a Lua script checks the limit and adds the hold atomically, and
another drops a hold and adds the real cost only if the hold was still there (so a release
replayed after a crash counts once).

Counters: each window is one Redis integer `turnout:rl:<name>:<window index>`, changed with INCRBY and
expiring after two windows; `add` reads the previous window in the same MULTI/EXEC, so the pair
it returns is consistent. Needs the `redis` extra (`pip install 'turnout[redis]'`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
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


# Amounts travel as integer nano-dollars (exact in Lua's doubles up to $9M); holds round up.
NANO = Decimal("1e9")

_HOLD = """
local h = KEYS[1]
if redis.call('HEXISTS', h, 'spent') == 0 then redis.call('HSET', h, 'spent', ARGV[3]) end
local spent = tonumber(redis.call('HGET', h, 'spent'))
local held = 0
local all = redis.call('HGETALL', h)
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'h:' then
    local amount, expires = string.match(all[i + 1], '(%d+):(%d+)')
    if tonumber(expires) < tonumber(ARGV[5]) then redis.call('HDEL', h, all[i])
    else held = held + tonumber(amount) end
  end
end
local left = tonumber(ARGV[1]) - spent - held
if tonumber(ARGV[2]) > left or left <= 0 then return {0, left} end
redis.call('HSET', h, 'h:' .. ARGV[4], ARGV[2] .. ':' .. ARGV[6])
if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', h, ARGV[7]) end
return {1, left}
"""

_RELEASE = """
if redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'spent') == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
  return 1
end
return 0
"""

HOLD_SECONDS = 3600  # a hold whose owner vanished without recovery stops counting after this


def to_nano(d: Decimal, up: bool = True) -> int:
    return int((d * NANO).to_integral_value(ROUND_CEILING if up else ROUND_HALF_EVEN))


class RedisHolds:
    def __init__(self, url: str, prefix: str = "turnout:budget:") -> None:
        import redis.asyncio as aioredis

        self._client: Any = aioredis.from_url(url, decode_responses=False)
        self._prefix = prefix
        self._hold = self._client.register_script(_HOLD)
        self._release = self._client.register_script(_RELEASE)
        self._pending: set[asyncio.Task[Any]] = set()

    async def hold(self, scope: str, gen_id: str, limit: Decimal, spent: Decimal, amount: Decimal,
                   ttl: int) -> tuple[bool, Decimal]:
        now_ms = int(time.time() * 1000)
        taken, left = await self._hold(
            keys=[self._prefix + scope],
            args=[to_nano(limit, up=False), to_nano(amount), to_nano(spent), gen_id, now_ms,
                  now_ms + HOLD_SECONDS * 1000, ttl])
        return bool(taken), Decimal(int(left)) / NANO

    async def release(self, scope: str, gen_id: str, cost: Decimal) -> None:
        await self._release(keys=[self._prefix + scope], args=[gen_id, to_nano(cost)])

    def release_later(self, scope: str, gen_id: str, cost: Decimal) -> None:
        task = asyncio.get_running_loop().create_task(self._release_quietly(scope, gen_id, cost))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _release_quietly(self, scope: str, gen_id: str, cost: Decimal) -> None:
        try:
            await self.release(scope, gen_id, cost)
        except Exception:  # the hold expires on its own; the journal replays the release after a crash
            log.warning("releasing a budget hold in Redis failed", exc_info=True)

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()
