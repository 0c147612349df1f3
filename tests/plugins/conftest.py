"""A gateway with the plugin layer configured: fake search engines, a Z.ai and an Anthropic upstream
(native search, native PDFs), a small-context model (compression) and an upstream that answers
nothing (insurance), all on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes import anthropic_upstream, empty_upstream, search_engines, zai_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import Settings, load_settings

PRICES = {"searxng": "0.004", "exa": "0.007", "tavily": "0.008", "brave": "0.005"}


@dataclass
class Fakes:
    upstream: Upstream
    engines_url: str
    engines: search_engines.EngineState
    zai_url: str
    zai: zai_upstream.ZaiState
    anthropic_url: str
    anthropic: anthropic_upstream.AnthropicState
    empty_url: str


@dataclass
class Plug:
    url: str
    key: str
    settings: Settings
    fakes: Fakes

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.api}{path}", json=body, timeout=30,
                          headers={"authorization": f"Bearer {self.key}", "x-api-key": self.key})

    def stream(self, path: str, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str | None, Any]]]:
        """(response, [(event name, data)]) of an SSE answer; `[DONE]` comes as (None, "[DONE]")."""
        events: list[tuple[str | None, Any]] = []
        with httpx.stream("POST", f"{self.api}{path}", json={**body, "stream": True}, timeout=30,
                          headers={"authorization": f"Bearer {self.key}", "x-api-key": self.key}) as r:
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                    events.append((name, data if data == "[DONE]" else json.loads(data)))
                    name = None
        return r, events

    def record(self, gen_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 5
        while True:
            r = httpx.get(f"{self.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {self.key}"})
            if r.status_code == 200:
                return r.json()["data"]  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, r.text
            time.sleep(0.05)


@pytest.fixture(scope="session")
def fakes(upstream: Upstream) -> Iterator[Fakes]:
    engines = search_engines.EngineState()
    zs, ans = zai_upstream.ZaiState(), anthropic_upstream.AnthropicState()
    with serve(search_engines.create_app(engines)) as eurl, serve(zai_upstream.create_app(zs)) as zurl, \
            serve(anthropic_upstream.create_app(ans)) as aurl, serve(empty_upstream.create_app()) as murl:
        yield Fakes(upstream, eurl, engines, zurl, zs, aurl, ans, murl)


def plugin_config(f: Fakes) -> dict[str, Any]:
    config = gateway_config(f.upstream.url)
    providers: dict[str, Any] = dict(config["providers"])  # type: ignore[call-overload]
    models: dict[str, Any] = dict(config["models"])  # type: ignore[call-overload]
    providers["zai-fake"] = {"name": "Zai Fake", "dialect": "zai", "base_url": f"{f.zai_url}/api/paas/v4", "api_key": "zai-key"}
    providers["claude-fake"] = {"name": "Claude Fake", "dialect": "anthropic", "base_url": f.anthropic_url,
                                "api_key": anthropic_upstream.API_KEY}
    providers["empty"] = {"name": "Empty", "dialect": "openai", "base_url": f"{f.empty_url}/v1", "api_key": "sk-e"}
    pricing = {"prompt": "0.000001", "completion": "0.000002"}
    models["test/zai-echo"] = {"context_length": 100000, "endpoints": [{"provider": "zai-fake", "model": "echo", "pricing": pricing}]}
    models["test/claude-echo"] = {"context_length": 100000, "input_modalities": ["text", "image", "file"],
                                  "endpoints": [{"provider": "claude-fake", "model": "echo", "pricing": pricing}]}
    models["test/small"] = {"context_length": 600, "supported_parameters": ["max_tokens"],
                            "endpoints": [{"provider": "fake", "model": "echo", "pricing": pricing}]}
    models["test/large-echo"] = {"context_length": 20000, "supported_parameters": ["max_tokens"],
                                 "endpoints": [{"provider": "fake", "model": "echo@big", "pricing": pricing}]}
    for name in ("empty", "partial-error", "json-broken", "searcher", "searcher-2", "searcher-5", "searcher-empty"):
        models[f"test/{name}"] = {"context_length": 100000, "supported_parameters": ["max_tokens", "response_format", "tools"],
                                  "endpoints": [{"provider": "empty", "model": name, "pricing": pricing}]}
    return {"providers": providers, "models": models}


def web_search_config(engines_url: str, default: str = "searxng") -> dict[str, Any]:
    return {"engine": default, "engines": {
        "searxng": {"url": f"{engines_url}/searxng", "price": PRICES["searxng"]},
        "exa": {"url": f"{engines_url}/exa/search", "api_key": search_engines.KEY, "price": PRICES["exa"]},
        "tavily": {"url": f"{engines_url}/tavily/search", "api_key": search_engines.KEY, "price": PRICES["tavily"]},
        "brave": {"url": f"{engines_url}/brave/res/v1/web/search", "api_key": search_engines.KEY, "price": PRICES["brave"]},
    }}


def settings_for(f: Fakes, data_dir: Path, **overrides: Any) -> Settings:
    config = plugin_config(f)
    overrides.setdefault("web_search", web_search_config(f.engines_url))
    return load_settings(None, env={}, data_dir=data_dir, keepalive_interval=0.5, read_timeout=5.0,
                         providers=config["providers"], models=config["models"], **overrides)


@pytest.fixture(scope="session")
def plug(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plug]:
    settings = settings_for(fakes, tmp_path_factory.mktemp("plugins"))
    key = create_key(settings, "plugins")
    with serve(create_app(settings)) as url:
        yield Plug(url, key, settings, fakes)


@pytest.fixture
def start_plug(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Plug]]:
    """A gateway with setting overrides (config defaults, URL fetching); stopped after the test."""
    stack: list[Any] = []

    def start(**overrides: Any) -> Plug:
        settings = settings_for(fakes, tmp_path_factory.mktemp("plugins-own"), **overrides)
        key = create_key(settings, "own")
        cm = serve(create_app(settings))
        url = cm.__enter__()
        stack.append(cm)
        return Plug(url, key, settings, fakes)

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
