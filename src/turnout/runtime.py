"""Everything a running gateway holds, built once from `Settings` at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from turnout.core.accounting import Accountant
from turnout.core.catalog import Catalog, build_catalog
from turnout.core.dispatch import Dispatcher
from turnout.core.gateway import Gateway
from turnout.core.keys import KeyCache, load_secret
from turnout.core.router import Router
from turnout.core.transport import Transport
from turnout.providers.registry import http_adapters, in_process_providers
from turnout.settings import Settings
from turnout.store.base import Store
from turnout.store.sqlite import SQLiteStore

log = logging.getLogger("turnout")

KEY_REFRESH_SECONDS = 1.0


def open_store(settings: Settings) -> Store:
    store = SQLiteStore(settings.sqlite_path)
    store.migrate()
    return store


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

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        catalog = build_catalog(settings.providers, settings.models, dict(os.environ))
        store = open_store(settings)
        keys = KeyCache(store, load_secret(settings.data_dir))
        keys.load()
        transport = Transport(settings.connect_timeout, settings.read_timeout)
        dispatcher = Dispatcher(
            http_adapters(),
            in_process_providers(settings),
            transport,
            keepalive_interval=settings.keepalive_interval,
            read_timeout=settings.read_timeout,
        )
        router = Router(catalog, dispatcher.availability)
        return cls(
            settings, catalog, store, keys, Accountant(store, keys), transport, dispatcher,
            Gateway(router, dispatcher), [],
        )

    async def start(self) -> None:
        await self.transport.start()
        self.accountant.start()
        self._tasks.append(asyncio.create_task(self._refresh_keys(), name="turnout-keys"))

    async def _refresh_keys(self) -> None:
        while True:
            await asyncio.sleep(KEY_REFRESH_SECONDS)
            try:
                await asyncio.to_thread(self.keys.refresh)
            except Exception:  # a locked or briefly missing database must not end the refresher
                log.exception("refreshing keys failed")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.accountant.close()
        await self.transport.close()
        self.store.close()
