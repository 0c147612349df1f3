"""Endpoint health shared by replicas through Redis (with `redis_url`): one fleet, one view of providers.

The request path never waits on Redis. The local `HealthTracker` (core/routing/health.py) decides every
request as before; it queues its observations in `tracker.events`, and this module's background
task, every `REFRESH_SECONDS`:

- writes them: each failure goes through a Lua script that counts the fleet's consecutive failures
  and opens the circuit for everyone (doubling the back-off when a probe failed); a success resets
  the count (and closes the circuit, once per flush per endpoint); a Retry-After extends the shared
  cool-down; samples (outcome, time to first token, throughput) go to a capped list per endpoint;
- reads the fleet's state (one HGETALL) and merges it into the tracker: a later failure, a longer
  cool-down, an open circuit, a close that came after this replica opened it;
- grants half-open probes: for an endpoint whose back-off ended here, `SET NX` with an expiry on
  a probe key; only the winner's tracker lets one request through, the others keep skipping it;
- every `SAMPLE_SECONDS`, reads the samples so the uptime, latency and throughput figures (and the
  routing by them) are the fleet's.

Times travel as wall-clock seconds and are turned into the tracker's clock on arrival. When Redis
cannot be reached the tracker falls back to its own view (probes need no grant) with one warning,
and returns to the fleet's when Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict, deque
from typing import Any

from turnout.core.routing.health import BASE_BACKOFF, BREAKER_THRESHOLD, MAX_BACKOFF, SAMPLES, HealthTracker

REFRESH_SECONDS = 0.25
SAMPLE_SECONDS = 2.0
PROBE_SECONDS = 10.0  # a granted probe not sent by then goes back to the fleet
STATE_TTL = 86400  # the state hash outlives a quiet day, not forever

log = logging.getLogger("turnout.health")

_FAIL = """
local h, ep, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local n = redis.call('HINCRBY', h, ep .. '|n', 1)
local lf = tonumber(redis.call('HGET', h, ep .. '|lf') or '0')
if now > lf then redis.call('HSET', h, ep .. '|lf', ARGV[2]) end
local open = tonumber(redis.call('HGET', h, ep .. '|open') or '0')
local bo = tonumber(redis.call('HGET', h, ep .. '|bo') or ARGV[4])
if ARGV[3] == '1' then
  bo = math.min(bo * 2, tonumber(ARGV[6]))
  redis.call('DEL', KEYS[2])
  redis.call('HSET', h, ep .. '|open', tostring(now + bo), ep .. '|bo', tostring(bo))
elseif n >= tonumber(ARGV[5]) and (open == 0 or now >= open) then
  redis.call('HSET', h, ep .. '|open', tostring(now + bo), ep .. '|bo', tostring(bo))
end
redis.call('EXPIRE', h, ARGV[7])
return n
"""

_OK = """
local h, ep = KEYS[1], ARGV[1]
redis.call('HSET', h, ep .. '|n', '0')
if tonumber(redis.call('HGET', h, ep .. '|open') or '0') > 0 and ARGV[3] == '1' then
  redis.call('HSET', h, ep .. '|open', '0', ep .. '|bo', ARGV[4], ep .. '|closed', ARGV[2])
  redis.call('DEL', KEYS[2])
end
return 1
"""

_COOL = """
local f = ARGV[1] .. '|cd'
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], f) or '0') then redis.call('HSET', KEYS[1], f, ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class SharedHealth:
    def __init__(self, tracker: HealthTracker, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self.tracker = tracker
        self._client: Any = aioredis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._state = prefix + "state"
        self._me = f"{os.uname().nodename}:{os.getpid()}:{id(self):x}"
        self._fail = self._client.register_script(_FAIL)
        self._ok = self._client.register_script(_OK)
        self._cool = self._client.register_script(_COOL)
        self._task: asyncio.Task[None] | None = None
        self._up = True
        self._last_samples = 0.0
        tracker.events = []
        tracker.shared = True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="turnout-shared-health")

    def _probe_key(self, ep: str) -> str:
        return f"{self._prefix}probe:{ep}"

    def _wall(self, t: float) -> float:
        """The tracker's clock to wall-clock seconds."""
        return t - self.tracker.clock() + time.time()

    def _local(self, wall: float) -> float:
        return wall - time.time() + self.tracker.clock()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.tick()

    async def tick(self) -> None:
        """One round: write what happened here, read the fleet, grant probes (and samples now and then)."""
        try:
            await self.flush()
            await self.pull()
            await self.grant()
            if time.monotonic() - self._last_samples >= SAMPLE_SECONDS:
                self._last_samples = time.monotonic()
                await self.pull_samples()
            if not self._up:
                log.warning("shared health: Redis answers again; using the fleet's endpoint health")
            self._up = True
            self.tracker.shared = True
        except Exception as exc:  # Redis away: decide alone (no probe grants) until it returns
            if self._up:
                log.warning("shared health: Redis unreachable (%s); using this replica's own view", type(exc).__name__)
            self._up = False
            self.tracker.shared = False
            assert self.tracker.events is not None
            del self.tracker.events[:-SAMPLES]  # bounded while Redis is away

    async def flush(self) -> None:
        events = self.tracker.events
        if not events:
            return
        batch = list(events)
        samples: dict[str, list[str]] = defaultdict(list)
        closes: dict[str, bool] = {}
        for ev in batch:
            kind, ep = ev[0], ev[1]
            if kind == "ok":
                wall = self._wall(ev[2])
                samples[ep].append(f"{wall:.3f}|1|{'' if ev[3] is None else round(ev[3], 2)}")
                closes[ep] = closes.get(ep, False) or bool(ev[4])
            elif kind == "tp":
                samples[ep].append(f"{self._wall(ev[2]):.3f}|t|{round(ev[3], 2)}")
            elif kind == "fail":
                wall = self._wall(ev[2])
                samples[ep].append(f"{wall:.3f}|0|")
                closes.pop(ep, None)  # a success before this failure no longer resets the count
                await self._fail(keys=[self._state, self._probe_key(ep)],
                                 args=[ep, f"{wall:.3f}", "1" if ev[3] else "0", BASE_BACKOFF,
                                       BREAKER_THRESHOLD, MAX_BACKOFF, STATE_TTL])
            elif kind == "rl":
                await self._cool(keys=[self._state], args=[ep, f"{self._wall(ev[2]):.3f}", STATE_TTL])
        for ep, closed in closes.items():
            await self._ok(keys=[self._state, self._probe_key(ep)],
                           args=[ep, f"{time.time():.3f}", "1" if closed else "0", BASE_BACKOFF])
        if samples:
            async with self._client.pipeline(transaction=False) as pipe:
                for ep, items in samples.items():
                    name = f"{self._prefix}s:{ep}"
                    pipe.rpush(name, *items)
                    pipe.ltrim(name, -SAMPLES, -1)
                    pipe.expire(name, STATE_TTL)
                pipe.sadd(self._prefix + "endpoints", *samples)
                pipe.expire(self._prefix + "endpoints", STATE_TTL)
                await pipe.execute()
        del events[:len(batch)]  # only once written: a failed write is retried with the next round

    async def pull(self) -> None:
        raw: dict[str, str] = await self._client.hgetall(self._state)
        fleet: dict[str, dict[str, float]] = defaultdict(dict)
        for field, value in raw.items():
            ep, _, name = field.rpartition("|")
            with contextlib.suppress(ValueError):
                fleet[ep][name] = float(value)
        now = self.tracker.clock()
        for ep, f in fleet.items():
            h = self.tracker.state(ep)
            if f.get("lf"):
                h.last_failure = max(h.last_failure, self._local(f["lf"]))
            if f.get("cd"):
                h.cooldown_until = max(h.cooldown_until, self._local(f["cd"]))
            opened = f.get("open", 0.0)
            if opened:
                until = self._local(opened)
                if until > h.open_until:
                    if not h.open_until:
                        log.warning("circuit open for %s (seen by another replica); next probe in %.0fs",
                                    ep, max(until - now, 0))
                    h.open_until, h.opened_at = until, now
                    h.backoff = f.get("bo", h.backoff)
                    h.probing = False
            elif h.open_until and f.get("closed") and self._local(f["closed"]) > h.opened_at:
                log.info("circuit closed for %s: another replica's probe succeeded", ep)
                h.open_until, h.backoff, h.probing, h.probe_granted_until = 0.0, BASE_BACKOFF, False, 0.0
                h.consecutive_failures = 0

    async def grant(self) -> None:
        for ep in self.tracker.awaiting_probe():
            if await self._client.set(self._probe_key(ep), self._me, nx=True, ex=int(PROBE_SECONDS)):
                self.tracker.grant_probe(ep, PROBE_SECONDS)

    async def pull_samples(self) -> None:
        eps: set[str] = await self._client.smembers(self._prefix + "endpoints")
        if not eps:
            return
        names = sorted(eps)
        async with self._client.pipeline(transaction=False) as pipe:
            for ep in names:
                pipe.lrange(f"{self._prefix}s:{ep}", -SAMPLES, -1)
            lists = await pipe.execute()
        unsent = {ev[1] for ev in self.tracker.events or () if ev[0] in ("ok", "fail", "tp")}
        for ep, items in zip(names, lists, strict=True):
            if ep in unsent:  # this replica's newest samples are not in Redis yet: next round
                continue
            h = self.tracker.state(ep)
            outcomes: list[tuple[float, bool]] = []
            ttft: list[tuple[float, float]] = []
            tput: list[tuple[float, float]] = []
            for item in items:
                try:
                    wall, kind, value = item.split("|")
                    t = self._local(float(wall))
                    if kind == "t":
                        tput.append((t, float(value)))
                    else:
                        outcomes.append((t, kind == "1"))
                        if value:
                            ttft.append((t, float(value)))
                except ValueError:
                    continue
            # replicas interleave: keep the windows in time order
            h.outcomes = deque(sorted(outcomes), maxlen=SAMPLES)
            h.ttft_ms = deque(sorted(ttft), maxlen=SAMPLES)
            h.throughput = deque(sorted(tput), maxlen=SAMPLES)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()
        await self._client.aclose()
