"""KeyCache.resolve on every store backend: a key the cache has not seen is found in the store on
first use; unknown hashes are remembered; concurrent misses share one lookup; misses are capped
per second; and the lookup runs off the event loop."""

from __future__ import annotations

import asyncio
import secrets
import time

from turnout.core.money.keys import KEY_PREFIX, MISS_LOOKUPS_PER_SECOND, KeyCache, hash_key, mint_key
from turnout.store.base import Store

SECRET = b"s" * 32


def make_key(store: Store, name: str) -> str:
    clear, label = mint_key()
    store.create_key(hash_key(SECRET, clear), name, label, None, time.time())
    return clear


def test_a_key_made_after_load_is_found_once_then_cached(store: Store) -> None:
    cache = KeyCache(store, SECRET)
    cache.load()

    async def go() -> None:
        clear = make_key(store, "late")
        assert cache.lookup(clear) is None  # the cache alone does not know it
        found = await cache.resolve(clear)
        assert found is not None and found.name == "late" and cache.store_lookups == 1
        assert await cache.resolve(clear) is found and cache.store_lookups == 1
        assert cache.lookup(clear) is found

    asyncio.run(go())


def test_unknown_keys_are_remembered_and_concurrent_misses_share_a_lookup(store: Store) -> None:
    cache = KeyCache(store, SECRET)
    cache.load()
    bad = KEY_PREFIX + secrets.token_hex(32)

    async def go() -> None:
        results = await asyncio.gather(*(cache.resolve(bad) for _ in range(10)))
        assert results == [None] * 10 and cache.store_lookups == 1
        assert await cache.resolve(bad) is None and cache.store_lookups == 1

    asyncio.run(go())


def test_misses_are_capped_per_second(store: Store) -> None:
    cache = KeyCache(store, SECRET)
    cache.load()

    async def go() -> None:
        started = time.monotonic()
        for _ in range(MISS_LOOKUPS_PER_SECOND * 3):
            await cache.resolve(KEY_PREFIX + secrets.token_hex(32))
        elapsed = time.monotonic() - started
        assert cache.store_lookups <= MISS_LOOKUPS_PER_SECOND * (int(elapsed) + 2)  # the one-second windows touched
        if elapsed < 1:
            assert cache.store_lookups < MISS_LOOKUPS_PER_SECOND * 3

    asyncio.run(go())


def test_the_refresher_finding_a_key_clears_its_negative_entry(store: Store) -> None:
    cache = KeyCache(store, SECRET)
    cache.load()
    clear, label = mint_key()
    digest = hash_key(SECRET, clear)

    async def go() -> None:
        assert await cache.resolve(clear) is None  # asked before it existed (remembered as absent)
        store.create_key(digest, "now", label, None, time.time())
        cache.refresh()
        assert await cache.resolve(clear) is not None

    asyncio.run(go())


def test_the_lookup_does_not_block_the_event_loop(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A slow store (a locked SQLite file, a distant PostgreSQL) delays only the unknown key."""
    cache = KeyCache(store, SECRET)
    cache.load()
    real = store.get_key

    def slow(h: str):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return real(h)

    monkeypatch.setattr(store, "get_key", slow)

    async def go() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        assert await cache.resolve(KEY_PREFIX + secrets.token_hex(32)) is None
        task.cancel()
        assert ticks >= 10  # the loop kept running during the 0.3 s lookup

    asyncio.run(go())
