"""Everything a running gateway holds, built once from `Settings` at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from turnout.api.body import BodyReader
from turnout.api.presets import PresetBook
from turnout.core.catalog.catalog import Catalog, catalog_for
from turnout.core.context import log_request
from turnout.core.gateway import Gateway
from turnout.core.money.accounting import Accountant
from turnout.core.money.byok import ByokBook, Vault
from turnout.core.money.journal import Journal, recover
from turnout.core.money.key_push import KeyPush
from turnout.core.money.keys import AdminKeys, KeyCache, KeyState, hash_key, load_secret
from turnout.core.money.ledger import Ledger
from turnout.core.money.ratelimit import RateLimiter
from turnout.core.response_cache import CachePolicy, ResponseCache
from turnout.core.response_cache import policy as cache_policy
from turnout.core.routing.availability import Availability
from turnout.core.routing.router import Router
from turnout.core.routing.shared_health import SharedHealth
from turnout.core.routing.sticky import StickyRoutes
from turnout.core.upstream.dispatch import Dispatcher
from turnout.core.upstream.scrub import Scrubber, configured_secrets
from turnout.core.upstream.transport import Transport, pooling, upstream_limits
from turnout.model.chat import ChatRequest
from turnout.observe.metrics import Metrics
from turnout.observe.observer import Observer, refresh_gauges
from turnout.observe.tracing import tracer_for
from turnout.plugins.pipeline import Pipeline
from turnout.providers.registry import http_adapters, in_process_providers
from turnout.settings import Settings
from turnout.store.base import Counters, Holds, KeyRecord, Store
from turnout.store.memory import MemoryCounters
from turnout.store.sqlite import SQLiteStore

log = logging.getLogger("turnout")

LOCAL_DIALECT = "local"  # the built-in in-process provider (providers/local.py)
KEY_REFRESH_SECONDS = 0.5  # a key disabled elsewhere is refused within a second
GAUGE_REFRESH_SECONDS = 2.0  # multi-process metrics: each worker's gauges, for whichever worker is scraped
USAGE_REFRESH_TICKS = 4  # other processes' spend is merged every 2 s


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    url = settings.database_url or ""
    store: Store
    if url.startswith(("postgres://", "postgresql://")):
        from turnout.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        store = SQLiteStore(settings.sqlite_path)
    if migrate:
        try:
            store.migrate()
        except Exception:
            store.close()
            raise
    return store


def schema_status(store: Store, postgres: bool) -> tuple[int, int]:
    """(the database's schema version, the newest this code knows)."""
    from turnout.store.sqlite import migrations

    known = migrations("postgres" if postgres else "sqlite")
    return store.schema_version(), known[-1][0] if known else 0


def redis_namespace(secret: bytes) -> str:
    """A Redis key prefix per installation (replicas share the key secret), so two installations
    sharing a Redis never mix their budgets."""
    return "turnout:" + hash_key(secret, "redis-namespace")[:16] + ":"


def key_channel(secret: bytes) -> str:
    """The Redis pub/sub channel key changes are pushed on (core/money/key_push.py)."""
    return redis_namespace(secret) + "keys"


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


def date_models(catalog: Catalog, store: Store) -> None:
    """Give the models whose catalog entry has no `created` the time this gateway first saw them
    (OpenRouter's clients sort and filter on it); one store round trip, at start-up."""
    undated = [m for m in catalog.models.values() if not m.created]
    if undated:
        seen = store.models_first_seen([m.id for m in undated], time.time())
        for model in undated:
            model.created = int(seen.get(model.id, time.time()))


def local_model_plan(preload: bool | None, catalog: Catalog, availability: Availability) -> tuple[bool, str]:
    """Whether `turnout serve` loads the built-in local chat model at start-up, and the line saying so.

    Loaded, it holds about 350 MB more than the rest of the gateway, so by default (``preload`` None)
    it loads at start-up only when it is the only chat model that can answer (no provider key,
    no other configured endpoint); otherwise on its first request (which then waits ~2 s).
    ``preload_local: true`` / ``false`` in the settings decides it outright.
    """
    local = [e for m in catalog.models.values() if m.kind == "chat" for e in m.endpoints
             if e.provider.dialect == LOCAL_DIALECT]
    if not local:
        return False, "built-in local model: not in the catalog"
    ok, why = availability(local[0])
    if not ok:
        return False, f"built-in local model: unavailable ({why})"
    if preload is not None:
        when = "at start-up" if preload else "on first use"
        return preload, f"built-in local model: loads {when} (preload_local: {str(preload).lower()})"
    others = availability.chat_models(catalog, excluding=(LOCAL_DIALECT,))
    if not others:
        return True, "built-in local model: loads at start-up, it is the only chat model that can answer"
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return False, f"built-in local model: loads on first use ({len(others)} other chat models can answer: {shown})"


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
    presets: PresetBook = field(init=False)
    byok: ByokBook = field(init=False)
    observer: Observer = field(init=False)
    _cache_keys: frozenset[str] = field(init=False, default=frozenset())
    bodies: BodyReader = field(init=False)
    _releases: list[tuple[str, str, Decimal]] = field(init=False, default_factory=list)
    shared_health: SharedHealth | None = field(init=False, default=None)
    key_push: KeyPush | None = field(init=False, default=None)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        catalog = catalog_for(settings, dict(os.environ))
        for warning in catalog.dataset.stale() if catalog.dataset is not None else ():
            log.warning("catalog data is stale: %s", warning)  # also on GET /ready
        store = open_store(settings)
        date_models(catalog, store)
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
        transport = Transport(
            settings.connect_timeout, settings.read_timeout, limits=upstream_limits(settings), pools=pooling(settings),
            scrubber=Scrubber(configured_secrets(catalog.providers.values(), settings.admin_key)),
        )
        dispatcher = Dispatcher(
            http_adapters(),
            in_process_providers(settings),
            transport,
            keepalive_interval=settings.keepalive_interval,
            read_timeout=settings.read_timeout,
        )
        router = Router(catalog, dispatcher.judge, dispatcher.health)
        rt = cls(
            settings, catalog, store, keys, Accountant(store, keys, ledger, journal, limiter), transport, dispatcher,
            Gateway(router, dispatcher, request_timeout=settings.request_timeout, plugins=Pipeline(settings),
                    stream_open_grace=settings.stream_open_grace, keepalive_interval=settings.keepalive_interval,
                    cache=ResponseCache(settings.response_cache_max_bytes, settings.redis_url,
                                        redis_namespace(secret).rstrip(":")),
                    sticky=StickyRoutes(settings.sticky_sessions_max)), [],
        )
        rt.observer = Observer(
            Metrics(catalog.models, (p.slug for p in catalog.providers.values())) if settings.metrics else None,
            tracer_for(settings, dict(os.environ)), max_age=settings.request_timeout + settings.shutdown_grace + 60,
            line=log_request)
        rt.accountant.observer = rt.observer
        rt.admin = AdminKeys(settings.data_dir, secret, settings.admin_key)
        rt.presets = PresetBook(store)
        rt.byok = ByokBook(store, Vault(secret))
        rt.byok.load()
        router.byok = rt.accountant.byok = rt.byok
        rt.accountant.byok_fee_percent = Decimal(settings.byok_fee_percent)
        rt._cache_keys = frozenset(n for n in settings.response_cache_keys.split(",") if n)
        rt.ledger, rt.limiter, rt.journal = ledger, limiter, journal
        rt.bodies = BodyReader(settings.body_budget_bytes, settings.max_json_values, settings.body_timeout)
        rt._releases = recovered.releases
        if settings.redis_url:  # one view of providers' health across replicas (core/routing/shared_health.py)
            rt.shared_health = SharedHealth(dispatcher.health, settings.redis_url, redis_namespace(secret) + "health:")
            rt.key_push = KeyPush(settings.redis_url, key_channel(secret), rt._pushed_key)
        return rt

    def cache_policy(self, headers: Mapping[str, str], key: KeyState | None, chat: ChatRequest, endpoint_type: str,
                     body: Any) -> CachePolicy | None:
        """The response-cache policy of one request (None, cheaply, when it did not opt in)."""
        s = self.settings
        if chat.cache_ttl is None and not s.response_cache_keys and "x-openrouter-cache" not in headers \
                and "x-turnout-cache" not in headers:
            return None
        return cache_policy(headers, key_hash=key.hash if key else None, key_name=key.name if key else None,
                            model=chat.model, endpoint_type=endpoint_type, streamed=chat.stream,
                            body=orjson.dumps(body) if isinstance(body, dict) else None, preset_ttl=chat.cache_ttl,
                            keys_always=self._cache_keys, default_ttl=s.response_cache_ttl)

    def key_changed(self, record: KeyRecord) -> None:
        """A key was changed in the store here (admin routes): tell the other replicas now."""
        if self.key_push is not None:
            self.key_push.publish(record)

    def _pushed_key(self, record: KeyRecord) -> None:
        known = self.keys.get(record.hash)
        if known is not None and known.updated_at > record.updated_at:
            return  # an older change arriving late: the cache already has a newer one
        self.keys.apply([record], advance=False)

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
        if self.shared_health is not None:
            self.shared_health.start()
        if self.key_push is not None:
            self.key_push.start()
        if self.observer.metrics is not None and self.observer.metrics.shared:  # other workers' scrapes see ours
            self._tasks.append(asyncio.create_task(self._refresh_gauges(), name="turnout-gauges"))
        if self.settings.preload_local:
            # The built-in local model loads in the background (its weights are assembled on the
            # first run); the gateway serves everything else meanwhile.
            for provider in self.dispatcher.in_process.values():
                start = getattr(provider, "start", None)
                if start is not None:
                    self._tasks.append(asyncio.create_task(start(), name=f"turnout-{provider.dialect}-load"))

        available = sorted(p.slug for p in self.catalog.providers.values() if p.availability()[0])
        log.info("started: %d models, providers available: %s; store: %s", len(self.catalog.models),
                 ", ".join(available) or "none", type(self.store).__name__)

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

    async def _refresh_gauges(self) -> None:
        while True:
            await asyncio.sleep(GAUGE_REFRESH_SECONDS)
            try:
                refresh_gauges(self)
            except Exception:
                log.exception("refreshing metrics failed")

    def _refresh(self) -> None:
        self.keys.refresh()
        self.ledger.refresh()
        self.admin.refresh()
        self.presets.refresh()
        self.byok.refresh()
        pairs = self.accountant.categories.drain()
        if pairs:
            try:
                self.store.add_app_categories(pairs, time.time())
            except Exception:
                self.accountant.categories.retry(pairs)
                raise

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.shared_health is not None:
            await self.shared_health.close()
        if self.key_push is not None:
            await self.key_push.close()
        await self.accountant.close()
        await self.journal.close()
        await self.limiter.counters.close()
        if self.ledger.holds is not None:
            await self.ledger.holds.close()
        if self.gateway.cache is not None:
            await self.gateway.cache.close()
        await self.transport.close()
        if self.gateway.plugins is not None:
            await self.gateway.plugins.close()
        for provider in self.dispatcher.in_process.values():
            close = getattr(provider, "close", None)
            if close is not None:
                await close()
        self.store.close()
        self.observer.settle()  # the last requests' metrics and log lines
        if self.observer.metrics is not None:
            self.observer.metrics.flush()  # multi-process: this worker's last counts land in the shared folder
        if self.observer.tracer is not None:
            self.observer.tracer.shutdown()  # exports the spans still buffered
        log.info("stopped: pending generation records written")
