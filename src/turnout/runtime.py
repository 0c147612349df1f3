"""Everything a running gateway holds, built once from `Settings` at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from turnout.api.body import BodyReader
from turnout.core.accounting import Accountant
from turnout.core.catalog import Catalog, build_catalog
from turnout.core.dispatch import Dispatcher
from turnout.core.gateway import Gateway
from turnout.core.journal import Journal, recover
from turnout.core.keys import AdminKeys, KeyCache, hash_key, load_secret
from turnout.core.ledger import Ledger
from turnout.core.ratelimit import RateLimiter
from turnout.core.router import Router
from turnout.core.transport import Transport
from turnout.providers.registry import http_adapters, in_process_providers
from turnout.settings import Settings
from turnout.store.base import Counters, Holds, Store
from turnout.store.memory import MemoryCounters
from turnout.store.sqlite import SQLiteStore

log = logging.getLogger("turnout")

KEY_REFRESH_SECONDS = 0.5  # a key disabled elsewhere is refused within a second
USAGE_REFRESH_TICKS = 4  # other processes' spend is merged every 2 s


def open_store(settings: Settings) -> Store:
    url = settings.database_url or ""
    store: Store
    if url.startswith(("postgres://", "postgresql://")):
        from turnout.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        store = SQLiteStore(settings.sqlite_path)
    store.migrate()
    return store


def redis_namespace(secret: bytes) -> str:
    """A Redis key prefix per installation (replicas share the key secret), so two installations
    sharing a Redis never mix their budgets."""
    return "turnout:" + hash_key(secret, "redis-namespace")[:16] + ":"


def open_holds(settings: Settings, secret: bytes) -> Holds | None:
    """Budget holds shared by replicas: in Redis when `redis_url` is set, else each process alone."""
    if settings.redis_url:
        from turnout.store.redis import RedisHolds

        return RedisHolds(settings.redis_url, prefix=redis_namespace(secret) + "budget:")
    return None


def open_counters(settings: Settings, secret: bytes) -> Counters:
    if settings.redis_url:
        from turnout.store.redis import RedisCounters

        return RedisCounters(settings.redis_url, prefix=redis_namespace(secret) + "rl:")
    return MemoryCounters()


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    store: Store
    keys: KeyCache
    accountant: Accountant
    transport: Transport
    dispatcher: Dispatcher
    gateway: Gateway
    _tasks: list[asyncio.Task[Any]]
    admin: AdminKeys = field(init=False)
    ledger: Ledger = field(init=False)
    limiter: RateLimiter = field(init=False)
    journal: Journal = field(init=False)
    bodies: BodyReader = field(init=False)
    _releases: list[tuple[str, str, Decimal]] = field(init=False, default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        catalog = build_catalog(settings.providers, settings.models, dict(os.environ))
        store = open_store(settings)
        secret = load_secret(settings.data_dir)
        journal_root = settings.data_dir / "journal"
        recovered = recover(journal_root, store)  # a killed predecessor's records and unfinished reservations
        keys = KeyCache(store, secret)
        keys.load()
        journal = Journal(journal_root)
        journal.open()
        ledger = Ledger(store, keys, journal, require_credits=settings.require_credits, holds=open_holds(settings, secret))
        ledger.load()
        limiter = RateLimiter(open_counters(settings, secret), settings.rate_limit_rpm, settings.rate_limit_tpm)
        transport = Transport(settings.connect_timeout, settings.read_timeout)
        dispatcher = Dispatcher(
            http_adapters(),
            in_process_providers(settings),
            transport,
            keepalive_interval=settings.keepalive_interval,
            read_timeout=settings.read_timeout,
        )
        router = Router(catalog, dispatcher.availability, dispatcher.health)
        rt = cls(
            settings, catalog, store, keys, Accountant(store, keys, ledger, journal, limiter), transport, dispatcher,
            Gateway(router, dispatcher), [],
        )
        rt.admin = AdminKeys(settings.data_dir, secret, settings.admin_key)
        rt.ledger, rt.limiter, rt.journal = ledger, limiter, journal
        rt.bodies = BodyReader(settings.body_budget_bytes, settings.max_json_values, settings.body_timeout)
        rt._releases = recovered.releases
        return rt

    async def start(self) -> None:
        await self.transport.start()
        self.accountant.start()
        self.journal.start()
        holds = self.ledger.holds
        if holds is not None:  # a dead predecessor's shared holds: release them (idempotent) and count their cost
            for scope, gen_id, cost in self._releases:
                try:
                    await holds.release(scope, gen_id, cost)
                except Exception:  # the hold expires by itself
                    log.warning("releasing a recovered budget hold failed", exc_info=True)
            self._releases = []
        self._tasks.append(asyncio.create_task(self._refresh_keys(), name="turnout-keys"))
        if self.settings.preload_local:
            # The built-in local model loads in the background (its weights are assembled on the
            # first run); the gateway serves everything else meanwhile.
            for provider in self.dispatcher.in_process.values():
                start = getattr(provider, "start", None)
                if start is not None:
                    self._tasks.append(asyncio.create_task(start(), name=f"turnout-{provider.dialect}-load"))

    async def _refresh_keys(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(KEY_REFRESH_SECONDS)
            tick += 1
            try:
                await asyncio.to_thread(self._refresh)
                if tick % USAGE_REFRESH_TICKS == 0:  # other processes' spend (workers, replicas, recovery)
                    self.keys.merge_usage(await asyncio.to_thread(self.store.key_usages))
                    self.ledger.merge_usage(await asyncio.to_thread(self.store.list_accounts))
            except Exception:  # a locked or briefly missing database must not end the refresher
                log.exception("refreshing keys failed")

    def _refresh(self) -> None:
        self.keys.refresh()
        self.ledger.refresh()
        self.admin.refresh()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.accountant.close()
        await self.journal.close()
        await self.limiter.counters.close()
        if self.ledger.holds is not None:
            await self.ledger.holds.close()
        await self.transport.close()
        for provider in self.dispatcher.in_process.values():
            close = getattr(provider, "close", None)
            if close is not None:
                await close()
        self.store.close()
