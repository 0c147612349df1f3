"""Redis for state that replicas share: rate-limit `Counters`, and budget `Holds`.

Holds: one Redis hash per scope (a key's limit period, or an account) with the scope's spend and
one field per request in flight; a Lua script checks the limit and adds the hold atomically, and
another drops a hold and adds the real cost only if the hold was still there (so a release
replayed after a crash counts once).

Counters: each window is one Redis integer `turnout:rl:<name>:<window index>`, changed with INCRBY and
expiring after two windows; `add` reads the previous window in the same MULTI/EXEC, so the pair
it returns is consistent. Needs the `redis` extra (`pip install 'turnout[redis]'`).

Outages: Redis going away must not fail requests that could be served. Every call has a short
socket timeout (`TIMEOUT`); when one fails, counters fall back to this process's own in-memory
windows and a hold is granted on the local view alone (the ledger has already checked the key's
limit and the account's balance as this process sees them, refreshed from the database every few
seconds), each with one warning per outage and one line when Redis answers again. A hold granted
that way is released as usual, which Redis ignores (it never held it), so nothing counts twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

log = logging.getLogger("turnout.redis")

TIMEOUT = 1.0  # seconds for one Redis call (and to connect): an outage costs a request this at most


class Outage:
    """One warning when Redis stops answering, one line when it answers again."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning("Redis unreachable (%s): %s", type(exc).__name__, self.what)

    def ok(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis answers again: shared limits are back")


def client(url: str) -> Any:
    import redis.asyncio as aioredis

    return aioredis.from_url(url, decode_responses=False, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


class RedisCounters:
    def __init__(self, url: str, prefix: str = "turnout:rl:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("redis_url is set but the redis package is missing: pip install 'turnout[redis]'") from exc
        del aioredis
        self._client: Any = client(url)
        self._prefix = prefix
        self._pending: set[asyncio.Task[Any]] = set()
        from turnout.store.memory import MemoryCounters

        self._local = MemoryCounters()  # this process's own windows while Redis is away
        self._outage = Outage("rate limits fall back to this process's own counts")

    def _names(self, name: str, window: int, now: float) -> tuple[str, str]:
        idx = int(now // window)
        return f"{self._prefix}{name}:{idx}", f"{self._prefix}{name}:{idx - 1}"

    async def add(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        try:
            out = await self._add(name, amount, window, now)
        except Exception as exc:
            self._outage.failed(exc)
            return await self._local.add(name, amount, window, now)
        self._outage.ok()
        return out

    async def _add(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        cur, prev = self._names(name, window, now)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incrby(cur, amount)
            pipe.expire(cur, window * 2)
            pipe.get(prev)
            total, _, before = await pipe.execute()
        return int(total), int(before or 0)

    async def read(self, name: str, window: int, now: float) -> tuple[int, int]:
        cur, prev = self._names(name, window, now)
        try:
            a, b = await self._client.mget(cur, prev)
        except Exception as exc:
            self._outage.failed(exc)
            return await self._local.read(name, window, now)
        self._outage.ok()
        return int(a or 0), int(b or 0)

    def add_later(self, name: str, amount: int, window: int, now: float) -> None:
        task = asyncio.get_running_loop().create_task(self._add_quietly(name, amount, window, now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _add_quietly(self, name: str, amount: int, window: int, now: float) -> None:
        await self.add(name, amount, window, now)  # falls back to the local count by itself

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        if self._pending:  # a Redis outage must not hold the shutdown: its holds expire by themselves
            _, late = await asyncio.wait(set(self._pending), timeout=2.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
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

# A hold granted on the local view while Redis was away: drop it if it was in fact taken (the reply
# was lost), and add the real cost to the scope's spend either way (once: only its owner calls this).
_CHARGE = """
redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'spent') == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
  return 1
end
return 0
"""

RELEASE_RETRIES = 300  # a release that fails is retried each second for five minutes (then the hold expires)
HOLD_SECONDS = 3600  # a hold whose owner vanished without recovery stops counting after this


def to_nano(d: Decimal, up: bool = True) -> int:
    return int((d * NANO).to_integral_value(ROUND_CEILING if up else ROUND_HALF_EVEN))


class RedisHolds:
    def __init__(self, url: str, prefix: str = "turnout:budget:") -> None:
        self._client: Any = client(url)
        self._outage = Outage("budgets are held on this process's view alone (refreshed from the database)")
        self._prefix = prefix
        self._hold = self._client.register_script(_HOLD)
        self._release = self._client.register_script(_RELEASE)
        self._charge = self._client.register_script(_CHARGE)
        self._local: set[tuple[str, str]] = set()  # (scope, gen_id) held on the local view alone
        self._pending: set[asyncio.Task[Any]] = set()

    async def hold(self, scope: str, gen_id: str, limit: Decimal, spent: Decimal, amount: Decimal,
                   ttl: int) -> tuple[bool, Decimal]:
        now_ms = int(time.time() * 1000)
        try:
            taken, left = await self._hold(
                keys=[self._prefix + scope],
                args=[to_nano(limit, up=False), to_nano(amount), to_nano(spent), gen_id, now_ms,
                      now_ms + HOLD_SECONDS * 1000, ttl])
        except Exception as exc:  # the caller's local check already passed: serve on it
            self._outage.failed(exc)
            self._local.add((scope, gen_id))
            return True, limit - spent
        self._outage.ok()
        return bool(taken), Decimal(int(left)) / NANO

    async def release(self, scope: str, gen_id: str, cost: Decimal) -> None:
        script = self._charge if (scope, gen_id) in self._local else self._release
        await script(keys=[self._prefix + scope], args=[gen_id, to_nano(cost)])
        self._local.discard((scope, gen_id))

    def release_later(self, scope: str, gen_id: str, cost: Decimal) -> None:
        task = asyncio.get_running_loop().create_task(self._release_quietly(scope, gen_id, cost))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _release_quietly(self, scope: str, gen_id: str, cost: Decimal) -> None:
        for _ in range(RELEASE_RETRIES):
            try:
                await self.release(scope, gen_id, cost)
            except Exception as exc:  # Redis away: retried until it returns (releases are idempotent)
                self._outage.failed(exc)
                await asyncio.sleep(1.0)
            else:
                self._outage.ok()
                return
        self._local.discard((scope, gen_id))  # the hold expires on its own

    async def close(self) -> None:
        if self._pending:  # a Redis outage must not hold the shutdown: its holds expire by themselves
            _, late = await asyncio.wait(set(self._pending), timeout=2.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._client.aclose()
