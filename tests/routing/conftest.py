"""A gateway whose models have several endpoints (providers p1, p2, p3 on the fake upstream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Gateway, Upstream, create_key
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings


def price(dollars_per_million: float) -> dict[str, str]:
    per_token = f"{dollars_per_million / 1_000_000:.10f}".rstrip("0")
    return {"prompt": per_token, "completion": per_token}


def ep(provider: str, scenario: str, usd: float, **extra: object) -> dict[str, object]:
    return {"provider": provider, "model": scenario, "pricing": price(usd), **extra}


ALL_PARAMS = ["max_tokens", "temperature", "seed", "tools", "tool_choice", "reasoning", "stop"]


def routing_config(upstream_url: str) -> dict[str, object]:
    base = f"{upstream_url}/v1"
    providers = {
        "p1": {"name": "Provider One", "dialect": "openai", "base_url": base, "api_key": "k1",
               "options": {"quirks": "openrouter"}},
        "p2": {"name": "Provider Two", "dialect": "openai", "base_url": base, "api_key": "k2",
               "data_policy": {"training": True}, "options": {"quirks": "openrouter"}},
        "p3": {"name": "Provider Three", "dialect": "openai", "base_url": base, "api_key": "k3",
               "data_policy": {"zdr": True}, "options": {"quirks": "openrouter"}},
    }

    def model(*endpoints: dict[str, object], context: int = 8192, **extra: object) -> dict[str, object]:
        return {"context_length": context, "supported_parameters": ALL_PARAMS, "endpoints": list(endpoints), **extra}

    models = {
        "route/multi": model(
            ep("p1", "echo@p1", 1, supported_parameters=["max_tokens", "temperature"]),
            ep("p2", "echo@p2", 2),
            ep("p3", "echo@p3", 3, quantization="fp8"),
        ),
        "route/free-mix": model(ep("p1", "echo@free", 0), ep("p2", "echo@paid", 1)),
        "route/exacto-mix": model(ep("p1", "echo@plain", 1), ep("p2", "echo@curated", 2, exacto=True)),
        "route/fallback": model(ep("p1", "error-500@fb", 1), ep("p2", "echo@fb", 2)),
        "route/all-fail": model(ep("p1", "error-500@af", 1), ep("p2", "error-503@af", 2)),
        "route/cut-first": model(ep("p1", "cut@cf", 1), ep("p2", "echo@cf", 2)),
        "route/breaker": model(ep("p1", "error-500@br", 1), ep("p2", "echo@br", 2)),
        "route/limited": model(ep("p1", "error-429@rl", 1), ep("p2", "echo@rl", 2)),
        "route/bad-request": model(ep("p1", "error-400@br", 1), ep("p2", "echo@br2", 2)),
        "route/small": model(ep("p1", "echo@small", 1), context=64),
        "route/short-output": model(ep("p1", "echo@short", 1, max_completion_tokens=10)),
        "route/speed": model(ep("p1", "slow@speed", 1), ep("p2", "echo@speed", 2)),
    }
    return {"providers": providers, "models": models}


@pytest.fixture(scope="module")
def rgateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir: Path = tmp_path_factory.mktemp("routing-data")
    config = routing_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=data_dir, providers=config["providers"], models=config["models"])
    key = create_key(settings, "routing")
    with serve(create_app(settings)) as url:
        yield Gateway(url, key, settings, upstream)
