"""Responses API chains shared by replicas and kept across restarts: the database behind the cache.

`ChainStore` is the in-memory `ResponseStore` (api/responses/store.py) with the database (the
`Store`'s `stored_responses` table) behind it. A response kept here is written to the database in
the background (batched; the request never waits for it); a `previous_response_id` the cache does
not hold (made by another replica, or before a restart) is read from the database once and cached.
A response made on another replica a moment ago may still be on its way: a miss is asked again
after `RETRY_SECONDS` before it is refused. The database applies the same quotas as the cache (per
key and in all) and the same one-hour expiry; deleting a response deletes it everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from turnout.api.responses.store import TTL_SECONDS, ResponseStore, StoredResponse
from turnout.model.chat import AudioPart, ContentPart, FilePart, ImagePart, Message, TextPart, ToolCall, VideoPart
from turnout.store.base import ResponseQuota, ResponseRow, Store

log = logging.getLogger("turnout")

RETRY_SECONDS = (0.1, 0.3)  # a response from another replica whose write is still in flight
MAX_BATCH = 256
PARTS: dict[str, type[Any]] = {"text": TextPart, "image": ImagePart, "file": FilePart, "audio": AudioPart,
                               "video": VideoPart}
KIND = {cls: name for name, cls in PARTS.items()}


def encode_messages(messages: tuple[Message, ...] | list[Message]) -> bytes:
    def part(p: ContentPart) -> dict[str, Any]:
        return {"t": KIND[type(p)], **{f: getattr(p, f) for f in p.__slots__}}

    out = []
    for m in messages:
        content: Any = m.content if m.content is None or isinstance(m.content, str) else [part(p) for p in m.content]
        out.append({"role": m.role, "content": content, "name": m.name, "tool_call_id": m.tool_call_id,
                    "tool_calls": None if m.tool_calls is None else
                    [[c.id, c.name, c.arguments] for c in m.tool_calls],
                    "reasoning": m.reasoning, "reasoning_details": m.reasoning_details})
    return orjson.dumps(out)


def decode_messages(blob: bytes) -> list[Message]:
    messages = []
    for m in orjson.loads(blob):
        content = m["content"]
        if isinstance(content, list):
            content = [PARTS[p.pop("t")](**p) for p in content]
        calls = m.get("tool_calls")
        messages.append(Message(m["role"], content, m.get("name"),
                                None if calls is None else [ToolCall(*c) for c in calls], m.get("tool_call_id"),
                                m.get("reasoning"), m.get("reasoning_details")))
    return messages


class ChainStore(ResponseStore):
    def __init__(self, db: Store, *, capacity: int, max_bytes: int, per_key: int, per_key_bytes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(capacity=capacity, max_bytes=max_bytes, per_key=per_key, per_key_bytes=per_key_bytes,
                         clock=clock)
        self._db = db
        self._quota = ResponseQuota(TTL_SECONDS, per_key, per_key_bytes, capacity, max_bytes)
        self._queue: list[ResponseRow] = []
        self._writer: asyncio.Task[None] | None = None

    def put(self, response_id: str, key_hash: str | None, model: str, messages: list[Message],
            response: dict[str, Any] | bytes | None = None, *, age: float = 0.0) -> StoredResponse | None:
        item = super().put(response_id, key_hash, model, messages, response, age=age)
        if item is not None and age == 0.0:
            self._queue.append(ResponseRow(response_id, key_hash or "", model, encode_messages(item.messages),
                                           item.response, item.size, time.time()))
            if self._writer is None or self._writer.done():
                self._writer = asyncio.get_running_loop().create_task(self._write())
        return item

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await asyncio.to_thread(self._db.save_responses, batch, self._quota, time.time())
            except Exception:  # the database is away: the cache still continues chains on this replica
                log.warning("saving %d stored responses to the database failed", len(batch), exc_info=True)
                if len(self._queue) < self._quota.total:
                    self._queue[:0] = batch
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        """Wait for the responses kept so far to be in the database (shutdown, tests)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def fetch(self, response_id: str, key_hash: str | None) -> None:
        """Bring a response this replica does not hold from the database into the cache (if there)."""
        if self.has(response_id):
            return
        for wait in (0.0, *RETRY_SECONDS):
            if wait:
                await asyncio.sleep(wait)
            try:
                row = await asyncio.to_thread(self._db.load_response, response_id)
            except Exception:
                log.warning("reading a stored response from the database failed", exc_info=True)
                return
            if row is not None:
                break
        else:
            return
        age = time.time() - row.stored_at
        if age >= TTL_SECONDS or row.key_hash != (key_hash or ""):
            return  # expired, or another key's: the same 404 as an unknown id
        super().put(response_id, key_hash, row.model, decode_messages(row.messages), row.response, age=age)

    async def remove(self, response_id: str) -> None:
        self.delete(response_id)
        self._queue = [r for r in self._queue if r.id != response_id]
        await asyncio.to_thread(self._db.delete_response, response_id)
