"""Generation records and reservations: taken on the request path, written off it.

`Accountant.reserve()` holds a request's worst-case cost (core/money/ledger.py) and journals the hold;
`Accountant.record()` journals the finished request's record, settles its reservation, counts its
tokens for rate limits, then appends it to a bounded asyncio queue and a small in-memory index of
recent records (so `GET /generation` answers before the batch lands). Neither awaits nor touches
the database. A background task writes batches to the store in a worker thread and then tells
the journal which of its segments are now covered. `close()` drains the queue: a clean shutdown
loses none, and a killed process's journal is replayed at the next start (core/money/journal.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from turnout.core.catalog.catalog import Endpoint
from turnout.core.money.byok import ByokBook
from turnout.core.money.categories import AppCategories
from turnout.core.money.estimate import PromptEstimate
from turnout.core.money.journal import Journal
from turnout.core.money.keys import KeyCache, KeyState
from turnout.core.money.ledger import Ledger, Reservation
from turnout.core.money.ratelimit import RateLimiter
from turnout.model.chat import ChatRequest
from turnout.model.result import Usage
from turnout.store.base import GenerationRecord, Store
from turnout.store.memory import MemoryCounters

if TYPE_CHECKING:
    from turnout.observe.observer import Observer

log = logging.getLogger("turnout.accounting")

QUEUE_BOUND = 50_000
BATCH_MAX = 500
BATCH_WAIT = 0.05  # seconds: how long a lone record may wait for company
RECENT = 2_000

Queued = tuple[GenerationRecord, int | None]  # the record and its journal segment


class Accountant:
    def __init__(self, store: Store, keys: KeyCache, ledger: Ledger | None = None, journal: Journal | None = None,
                 limiter: RateLimiter | None = None) -> None:
        self._store = store
        self._keys = keys
        self.ledger = ledger or Ledger(store, keys, journal, require_credits=False)
        self.journal = journal
        self.limiter = limiter or RateLimiter(MemoryCounters(), None, None)
        self._queue: asyncio.Queue[Queued | None] = asyncio.Queue(QUEUE_BOUND)
        self._recent: OrderedDict[str, GenerationRecord] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._overflow: list[Queued] = []
        self.written = 0  # records committed by this process (for tests and metrics)
        # BYOK (core/money/byok.py): what a request on an account's own key is charged, and the accounts
        # whose keys' limits count that key's upstream spend too; both set by the runtime.
        self.byok_fee_percent = Decimal(0)
        self.byok: ByokBook | None = None
        self.categories = AppCategories()  # X-OpenRouter-Categories seen, written by the runtime's refresher
        self.observer: Observer | None = None  # metrics, traces and shutdown (observe/observer.py)

    def queue_depth(self) -> int:
        """Records waiting to be written (a metric)."""
        return self._queue.qsize() + len(self._overflow)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="turnout-accounting")

    def reserve(self, gen_id: str, key: KeyState | None, request: ChatRequest, endpoints: Sequence[Endpoint],
                prompt: PromptEstimate | int, entry: dict[str, Any], fees: Decimal = Decimal(0),
                calls: int = 1) -> Reservation:
        """Hold the worst case of a routed request (402 when it cannot be afforded)."""
        return self.ledger.reserve(gen_id, key, request, endpoints, prompt, entry, fees, calls)

    async def hold_shared(self, reservation: Reservation) -> None:
        """Hold the reservation in the store replicas share (Redis), or raise a 402."""
        await self.ledger.hold_shared(reservation)

    def note_usage(self, gen_id: str, endpoint: Endpoint, usage: Usage, cost: Decimal) -> None:
        """A stream's usage and cost, journalled as soon as known: a crash before its record settles
        the request from this rather than from the estimate."""
        if self.journal is not None:
            self.journal.usage(gen_id, {
                "provider": endpoint.provider.name, "upstream_model": endpoint.upstream_model,
                "dialect_out": endpoint.provider.dialect, "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens, "cached_tokens": usage.cached_tokens,
                "cache_write_tokens": usage.cache_write_tokens, "reasoning_tokens": usage.reasoning_tokens,
                "estimated": usage.estimated, "cost": str(cost)})

    def record(self, rec: GenerationRecord, reservation: Reservation | None = None,
               limit_extra: Decimal = Decimal(0)) -> None:
        """Never awaits, so it is safe in a `finally` of a cancelled stream. `limit_extra` counts
        against the key's limit only (a BYOK request's upstream spend, with include_byok_in_limit)."""
        segment = self.journal.settle(rec) if self.journal is not None else None
        self.ledger.settle(reservation, rec, limit_extra)
        if reservation is not None:
            self.limiter.count_tokens(reservation.key, rec.prompt_tokens + rec.completion_tokens)
        self._recent[rec.id] = rec
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        try:
            self._queue.put_nowait((rec, segment))
        except asyncio.QueueFull:
            # The store is far behind; keep the record rather than lose it.
            if not self._overflow:
                log.warning("accounting queue full (%d); holding records in memory", QUEUE_BOUND)
            self._overflow.append((rec, segment))

    def recent(self, gen_id: str) -> GenerationRecord | None:
        return self._recent.get(gen_id)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            await asyncio.sleep(BATCH_WAIT)  # let a batch gather; nothing waits on this write
            batch = [first]
            stopping = False
            while len(batch) < BATCH_MAX and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:  # close(): write what we hold, then stop
                    stopping = True
                    break
                batch.append(item)
            if self._overflow:
                batch.extend(self._overflow)
                self._overflow = []
            await self._write(batch)
            if stopping:
                return

    async def _write(self, batch: list[Queued]) -> None:
        delay = 0.1
        records = [rec for rec, _ in batch]
        while True:
            try:
                await asyncio.to_thread(self._store.write_generations, records)
                break
            except Exception:  # the store is down or locked: keep the batch and retry
                log.exception("writing %d generation records failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.written += len(records)
        for rec in records:
            if rec.key_hash is not None and rec.cost:
                self._keys.committed(rec.key_hash, rec.cost)
                key = self._keys.get(rec.key_hash)
                if key is not None:
                    self.ledger.committed(key.account_id, rec.cost)
        if self.journal is not None:
            segments: dict[int, int] = {}
            for _, seg in batch:
                if seg is not None:
                    segments[seg] = segments.get(seg, 0) + 1
            self.journal.committed(segments)

    async def close(self) -> None:
        """Write everything queued so far, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None
        if self._overflow:
            await self._write(self._overflow)
            self._overflow = []
