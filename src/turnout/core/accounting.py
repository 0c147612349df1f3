"""Generation records: built on the request path, written off it.

`Accountant.record()` only appends to a bounded asyncio queue and a small in-memory index of
recent records (so `GET /generation` answers before the batch lands). A background task writes
batches to the store in a worker thread. `close()` drains the queue: a clean shutdown loses none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from turnout.core.keys import KeyCache
from turnout.store.base import GenerationRecord, Store

log = logging.getLogger("turnout.accounting")

QUEUE_BOUND = 50_000
BATCH_MAX = 500
BATCH_WAIT = 0.05  # seconds: how long a lone record may wait for company
RECENT = 2_000


class Accountant:
    def __init__(self, store: Store, keys: KeyCache) -> None:
        self._store = store
        self._keys = keys
        self._queue: asyncio.Queue[GenerationRecord | None] = asyncio.Queue(QUEUE_BOUND)
        self._recent: OrderedDict[str, GenerationRecord] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._overflow: list[GenerationRecord] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="turnout-accounting")

    def record(self, rec: GenerationRecord) -> None:
        """Never awaits, so it is safe in a `finally` of a cancelled stream."""
        self._keys.spend(rec.key_hash, rec.cost)
        self._recent[rec.id] = rec
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        try:
            self._queue.put_nowait(rec)
        except asyncio.QueueFull:
            # The store is far behind; keep the record rather than lose it.
            if not self._overflow:
                log.warning("accounting queue full (%d); holding records in memory", QUEUE_BOUND)
            self._overflow.append(rec)

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
                rec = self._queue.get_nowait()
                if rec is None:  # close(): write what we hold, then stop
                    stopping = True
                    break
                batch.append(rec)
            if self._overflow:
                batch.extend(self._overflow)
                self._overflow = []
            await self._write(batch)
            if stopping:
                return

    async def _write(self, batch: list[GenerationRecord]) -> None:
        delay = 0.1
        while True:
            try:
                await asyncio.to_thread(self._store.write_generations, batch)
                return
            except Exception:  # the store is down or locked: keep the batch and retry
                log.exception("writing %d generation records failed; retrying", len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

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
