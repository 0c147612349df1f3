"""The conformance gateway: one live turnout in front of four fake upstreams, one per dialect.

Every fake is a real server on 127.0.0.1 speaking its provider's wire format; the gateway's
catalog has one model per (dialect, scenario), `conf-<dialect>/<scenario>`, whose upstream model
name is the scenario the fake plays. Prices are per dialect, so golden costs are hand-computable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Upstream, create_key
from tests.fakes import anthropic_upstream, gemini_upstream, zai_upstream
from tests.fakes.server import serve

from turnout.app import create_app
from turnout.providers.anthropic.request import SUPPORTED_PARAMETERS as ANTHROPIC_PARAMS
from turnout.providers.gemini.request import SUPPORTED_PARAMETERS as GEMINI_PARAMS
from turnout.providers.zai import SUPPORTED_PARAMETERS as ZAI_PARAMS
from turnout.settings import Settings, load_settings

DIALECTS = ("openai", "zai", "anthropic", "gemini")
SCENARIOS = (
    "echo", "tools", "reasoning", "structured", "cached", "web", "error-400", "error-401", "error-429",
    "error-500", "overloaded", "html-500", "empty-500", "cut", "stream-error",
)
# The OpenAI fake (tests/fakes/openai_upstream.py) names a few scenarios its own way.
OPENAI_NAMES = {"overloaded": "error-503", "structured": "echo", "web": "echo", "stream-error": "cut"}
PRICES: dict[str, dict[str, str]] = {
    "openai": {"prompt": "0.000001", "completion": "0.000002", "input_cache_read": "0.0000001"},
    "zai": {"prompt": "0.0000006", "completion": "0.0000018", "input_cache_read": "0.00000011", "web_search": "0.033"},
    "anthropic": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003",
                  "input_cache_write": "0.00000375"},
    "gemini": {"prompt": "0.0000003", "completion": "0.0000025", "input_cache_read": "0.00000003"},
}
# What each dialect's endpoints can honestly advertise: what its translator carries.
SUPPORTED: dict[str, list[str]] = {
    "openai": ["max_tokens", "temperature", "top_p", "stop", "seed", "tools", "tool_choice", "reasoning",
               "response_format", "structured_outputs"],
    "zai": sorted(ZAI_PARAMS),
    "anthropic": sorted(ANTHROPIC_PARAMS),
    "gemini": sorted(GEMINI_PARAMS),
}


@dataclass
class Fakes:
    openai: Upstream
    zai: tuple[str, zai_upstream.ZaiState]
    anthropic: tuple[str, anthropic_upstream.AnthropicState]
    gemini: tuple[str, gemini_upstream.GeminiState]

    def last(self, dialect: str) -> dict[str, Any]:
        """The last request the dialect's fake received: path, headers and body."""
        if dialect == "openai":
            return self.openai.state.requests[-1]
        state = getattr(self, dialect)[1]
        return state.requests[-1]


@dataclass
class ConformanceGateway:
    url: str
    key: str
    settings: Settings
    fakes: Fakes

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.api}/chat/completions", json=body, headers={"authorization": f"Bearer {self.key}"}, timeout=20)

    def stream(self, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], bool]:
        """(status, the JSON chunks, whether [DONE] came) of a streamed request."""
        chunks: list[dict[str, Any]] = []
        done = False
        with httpx.stream("POST", f"{self.api}/chat/completions", json={**body, "stream": True},
                          headers={"authorization": f"Bearer {self.key}"}, timeout=20) as r:
            if r.status_code != 200:
                r.read()
                return r.status_code, [r.json()], False
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                else:
                    chunks.append(json.loads(line[6:]))
        return 200, chunks, done

    def generation(self, gen_id: str) -> dict[str, Any]:
        """The generation record (written by the accounting queue, so polled briefly)."""
        deadline = time.monotonic() + 5
        while True:
            r = httpx.get(f"{self.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {self.key}"})
            if r.status_code == 200 or time.monotonic() > deadline:
                assert r.status_code == 200, r.text
                return r.json()["data"]
            time.sleep(0.05)


def price(dialect: str, name: str) -> Decimal:
    return Decimal(PRICES[dialect][name])


def conformance_config(fakes: Fakes) -> dict[str, Any]:
    providers = {
        "conf-openai": {"name": "Conf OpenAI", "dialect": "openai", "base_url": f"{fakes.openai.url}/v1", "api_key": "sk-upstream"},
        "conf-zai": {"name": "Conf Z.AI", "dialect": "zai", "base_url": f"{fakes.zai[0]}/api/paas/v4", "api_key": "zai-upstream-key"},
        "conf-anthropic": {"name": "Conf Anthropic", "dialect": "anthropic", "base_url": fakes.anthropic[0],
                           "api_key": anthropic_upstream.API_KEY},
        "conf-gemini": {"name": "Conf Gemini", "dialect": "gemini", "base_url": f"{fakes.gemini[0]}/v1beta",
                        "api_key": gemini_upstream.API_KEY},
    }
    models: dict[str, Any] = {}
    for dialect in DIALECTS:
        for scenario in SCENARIOS:
            upstream_name = OPENAI_NAMES.get(scenario, scenario) if dialect == "openai" else scenario
            entry = {
                "context_length": 100000,
                "input_modalities": ["text", "image"],
                "supported_parameters": SUPPORTED[dialect],
                "endpoints": [{"provider": f"conf-{dialect}", "model": upstream_name, "pricing": PRICES[dialect]}],
            }
            # Endpoint health is per endpoint (a 429 cools it down), so tests that hit one error
            # scenario more than once get their own copies.
            for copy in ("", "-stream", "-again"):
                models[f"conf-{dialect}/{scenario}{copy}"] = entry
    # A stream that fails with an `error` event before any content falls back to the next endpoint.
    providers["conf-anthropic-b"] = {**providers["conf-anthropic"], "name": "Conf Anthropic B"}
    models["conf-anthropic/fallback"] = {
        "context_length": 100000,
        "endpoints": [
            {"provider": "conf-anthropic", "model": "early-overload", "pricing": PRICES["anthropic"]},
            {"provider": "conf-anthropic-b", "model": "echo", "pricing": PRICES["anthropic"]},
        ],
    }
    # Scenarios only one fake plays.
    for dialect, scenario in (("anthropic", "citations"), ("anthropic", "refusal"), ("anthropic", "tools-noargs"),
                              ("gemini", "malformed"), ("zai", "reasoning-unreported")):
        models[f"conf-{dialect}/{scenario}"] = {
            "context_length": 100000, "supported_parameters": SUPPORTED[dialect],
            "endpoints": [{"provider": f"conf-{dialect}", "model": scenario, "pricing": PRICES[dialect]}],
        }
    # An endpoint with its own parameter rules: adaptive thinking, efforts low/medium/high.
    models["conf-anthropic/adaptive"] = {
        "context_length": 100000,
        "supported_parameters": SUPPORTED["anthropic"],
        "endpoints": [{"provider": "conf-anthropic", "model": "reasoning", "pricing": PRICES["anthropic"],
                       "parameter_rules": {"family": "adaptive test model", "thinking": ["adaptive"],
                                           "efforts": ["low", "medium", "high"]}}],
    }
    return {"providers": providers, "models": models}


@pytest.fixture(scope="session")
def fakes(upstream: Upstream) -> Iterator[Fakes]:
    zs, ans, gs = zai_upstream.ZaiState(), anthropic_upstream.AnthropicState(), gemini_upstream.GeminiState()
    with (
        serve(zai_upstream.create_app(zs)) as zurl,
        serve(anthropic_upstream.create_app(ans)) as aurl,
        serve(gemini_upstream.create_app(gs)) as gurl,
    ):
        yield Fakes(upstream, (zurl, zs), (aurl, ans), (gurl, gs))


@pytest.fixture(scope="session")
def conf(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceGateway]:
    data_dir: Path = tmp_path_factory.mktemp("turnout-conformance")
    config = conformance_config(fakes)
    settings = load_settings(
        None, env={}, data_dir=data_dir, keepalive_interval=0.5, read_timeout=2.0,
        providers=config["providers"], models=config["models"],
    )
    key = create_key(settings, "conformance")
    with serve(create_app(settings)) as url:
        yield ConformanceGateway(url, key, settings, fakes)
