"""Shared fixtures: a fake OpenAI-dialect upstream and a live turnout gateway, both on loopback."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.openai_upstream import UpstreamState
from tests.fakes.openai_upstream import create_app as create_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.money.keys import hash_key, load_secret, mint_key
from turnout.runtime import open_store
from turnout.settings import Settings, load_settings

# The gateway honours HTTP(S)_PROXY (docs/networking.md): a proxy set on the test machine must not
# stand between the gateways under test and their loopback fakes. Proxy tests pass their own.
for _name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)

SCENARIOS = (
    "echo", "tools", "reasoning", "cached", "no-usage", "error-400", "error-401", "error-429", "error-500",
    "error-503", "html-500", "empty-500", "slow", "silent", "cut", "hang", "hang-stream",
    "flood", "drip", "overbill",
)
PROMPT_PRICE = "0.000001"
COMPLETION_PRICE = "0.000002"
CACHE_READ_PRICE = "0.0000001"
# The price of a fallback model's failing endpoint: default routing is a random pick weighted by
# 1/price², and at a millionth of the other endpoint's price the failing one is always tried first
# (at a tenth it came second 1 time in 101, and a test found no fallback to count).
FAILING_PRICE = "0.000000000001"


@dataclass
class Upstream:
    url: str
    state: UpstreamState


@dataclass
class Gateway:
    url: str
    key: str
    settings: Settings
    upstream: Upstream

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def new_key(self, name: str, limit: Decimal | None = None) -> str:
        return create_key(self.settings, name, limit)


def create_key(settings: Settings, name: str, limit: Decimal | None = None) -> str:
    store = open_store(settings)
    try:
        clear, label = mint_key()
        store.create_key(hash_key(load_secret(settings.data_dir), clear), name, label, limit, time.time())
    finally:
        store.close()
    return clear


def gateway_config(upstream_url: str) -> dict[str, object]:
    pricing = {"prompt": PROMPT_PRICE, "completion": COMPLETION_PRICE, "input_cache_read": CACHE_READ_PRICE}
    models: dict[str, object] = {
        f"test/{s}": {
            "name": f"Test {s}",
            "context_length": 8192,
            "supported_parameters": ["max_tokens", "temperature", "top_p", "tools", "tool_choice", "reasoning",
                                     "response_format", "stop", "seed"],
            "endpoints": [{"provider": "fake", "model": s, "pricing": pricing}],
        }
        for s in SCENARIOS
    }
    # The same scenarios under other upstream names: separate endpoints, separate health.
    for s in SCENARIOS:
        models[f"test/{s}-2"] = {**models[f"test/{s}"], "endpoints": [{"provider": "fake", "model": f"{s}@2", "pricing": pricing}]}
    # Two endpoints: the cheaper one fails (always tried first: FAILING_PRICE), the other answers.
    models["test/fallback"] = {
        "context_length": 8192,
        "endpoints": [
            {"provider": "fake", "model": "error-500", "pricing": {"prompt": FAILING_PRICE, "completion": FAILING_PRICE}},
            {"provider": "fake2", "model": "echo", "pricing": pricing},
        ],
    }
    models["test/text-only"] = {
        "context_length": 100,
        "endpoints": [{"provider": "fake", "model": "echo", "pricing": pricing, "supported_parameters": ["max_tokens"]}],
    }
    return {
        "providers": {
            "fake": {"name": "Fake", "dialect": "openai", "base_url": f"{upstream_url}/v1", "api_key": "sk-upstream"},
            "fake2": {"name": "Fake Two", "dialect": "openai", "base_url": f"{upstream_url}/v1", "api_key": "sk-upstream"},
        },
        "models": models,
    }


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    state = UpstreamState()
    with serve(create_upstream(state)) as url:
        yield Upstream(url, state)


@pytest.fixture(scope="session")
def gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir: Path = tmp_path_factory.mktemp("turnout-data")
    config = gateway_config(upstream.url)
    settings = load_settings(
        None,
        env={},
        data_dir=data_dir,
        keepalive_interval=0.5,
        read_timeout=2.0,
        providers=config["providers"],
        models=config["models"],
    )
    key = create_key(settings, "test")
    with serve(create_app(settings)) as url:
        yield Gateway(url, key, settings, upstream)
