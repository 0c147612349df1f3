"""Gateways for the accounts tests: each with its own data directory, an admin key, and the shared
fake upstream; plus helpers to call the API and to read the store behind a gateway."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from tests.unit.store.backends import ran, terminal_summary
from turnout.app import create_app
from turnout.runtime import open_store
from turnout.settings import Settings, load_settings
from turnout.store.base import Store

ADMIN = "sk-tn-admin-v1-test-admin-key-0123456789"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminal_summary(terminalreporter)


@dataclass
class Acct:
    url: str
    settings: Settings

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def new_key(self, name: str, limit: Decimal | None = None) -> str:
        return create_key(self.settings, name, limit)

    def call(self, method: str, path: str, key: str = ADMIN, **kw: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.api}{path}", headers=headers, timeout=30, **kw)

    def chat(self, key: str, model: str = "test/echo", **body: Any) -> httpx.Response:
        headers = body.pop("headers", {})
        payload = {"model": model, "messages": [{"role": "user", "content": "hello there"}], **body}
        return self.call("POST", "/chat/completions", key, json=payload, headers=headers)

    @contextmanager
    def store(self) -> Iterator[Store]:
        s = open_store(self.settings)
        try:
            yield s
        finally:
            s.close()


def settings_for(upstream: Upstream, data_dir: Path, **overrides: Any) -> Settings:
    config = gateway_config(upstream.url)
    models = dict(config["models"])  # type: ignore[call-overload]
    # a pricey model to fall back to: a hold must cover it
    models["test/pricey"] = {"context_length": 8192, "endpoints": [
        {"provider": "fake", "model": "echo", "pricing": {"prompt": "0.0001", "completion": "0.001"}}]}
    return load_settings(None, env={}, data_dir=data_dir, keepalive_interval=0.5, read_timeout=5.0,
                         providers=config["providers"], models=models, admin_key=ADMIN, **overrides)


@pytest.fixture
def start_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Acct]]:
    """Start a gateway with setting overrides; stopped at the end of the test."""
    stack: list[Any] = []

    def start(**overrides: Any) -> Acct:
        settings = settings_for(upstream, tmp_path_factory.mktemp("acct"), **overrides)
        cm = serve(create_app(settings))
        url = cm.__enter__()
        stack.append(cm)
        ran("sqlite")
        return Acct(url, settings)

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def acct(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acct]:
    settings = settings_for(upstream, tmp_path_factory.mktemp("acct-shared"))
    with serve(create_app(settings)) as url:
        ran("sqlite")
        yield Acct(url, settings)


def wait_until(check: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> float:
    """Seconds until `check()` held; fails the test past `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


def ledger_balances(store: Store, account: str = "default") -> tuple[Decimal, Decimal]:
    """(usage per the ledger's own rows, the account's usage total); they must be equal."""
    _, usage = store.ledger_sums(account)
    record = store.get_account(account)
    assert record is not None
    return usage, record.usage
