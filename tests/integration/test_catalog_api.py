"""OpenRouter's catalog API in full, over real sockets, driven by the official Python SDK where it has a call."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from openrouter import OpenRouter

from tests.conftest import Upstream, create_key
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.catalog.catalog import family
from turnout.settings import load_settings


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    # DeepInfra (a dataset provider) switched on against the fake upstream; "zdr-host" is a
    # configured provider that keeps no data; z-ai points at the fake upstream too.
    providers = {
        "deepinfra": {"base_url": f"{upstream.url}/v1", "api_key": "di-test"},
        "z-ai": {"base_url": f"{upstream.url}/v1", "api_key": "zai-test"},
        "zdr-host": {"name": "ZDR Host", "dialect": "openai", "base_url": f"{upstream.url}/v1", "api_key": "k",
                     "data_policy": {"zdr": True}},
    }
    models = {"acme/private": {"context_length": 8192, "endpoints": [
        {"provider": "zdr-host", "model": "echo", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}]}}
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("catalog-api"), providers=providers,
                             models=models, read_timeout=5.0)
    key = create_key(settings, "catalog")
    with serve(create_app(settings)) as url:
        yield url, key


def ids(body: dict[str, object]) -> list[str]:
    return [m["id"] for m in body["data"]]  # type: ignore[index, union-attr]


def test_filters_by_parameters_modalities_context_price_author_and_provider(site: tuple[str, str]) -> None:
    url, _ = site
    api = f"{url}/api/v1/models"
    for m in httpx.get(api, params={"supported_parameters": "tools,reasoning"}).json()["data"]:
        assert {"tools", "reasoning"} <= set(m["supported_parameters"])
    images = httpx.get(api, params={"input_modalities": "image"}).json()["data"]
    assert images and all("image" in m["architecture"]["input_modalities"] for m in images)
    assert "z-ai/glm-4.6v" in ids({"data": images}) and "z-ai/glm-4.6" not in ids({"data": images})
    big = httpx.get(api, params={"context": "200000"}).json()["data"]
    assert big and all(m["context_length"] >= 200_000 for m in big)
    cheap = httpx.get(api, params={"max_price": "0.5"}).json()["data"]
    assert cheap and all(Decimal(m["pricing"]["prompt"]) * 1_000_000 <= Decimal("0.5") for m in cheap)
    meta = ids(httpx.get(api, params={"model_authors": "meta-llama"}).json())
    assert meta and all(i.startswith("meta-llama/") for i in meta)
    assert "meta-llama/llama-3.3-70b-instruct" in ids(httpx.get(api, params={"providers": "deepinfra"}).json())
    assert ids(httpx.get(api, params={"zdr": "true"}).json()) == ["acme/private"]


def test_text_output_by_default_and_embeddings_on_request(site: tuple[str, str]) -> None:
    url, _ = site
    plain = ids(httpx.get(f"{url}/api/v1/models").json())
    assert "sentence-transformers/all-minilm-l6-v2" not in plain  # OpenRouter's default is output_modalities=text
    embeddings = ids(httpx.get(f"{url}/api/v1/models", params={"output_modalities": "embeddings"}).json())
    assert "sentence-transformers/all-minilm-l6-v2" in embeddings
    everything = ids(httpx.get(f"{url}/api/v1/models", params={"output_modalities": "all"}).json())
    assert set(plain) | set(embeddings) <= set(everything)
    listed = ids(httpx.get(f"{url}/api/v1/embeddings/models").json())
    assert "sentence-transformers/all-minilm-l6-v2" in listed and "z-ai/glm-4.6" not in listed


def test_sorting_and_opt_in_paging_with_a_next_link(site: tuple[str, str]) -> None:
    url, _ = site
    api = f"{url}/api/v1/models"
    newest = httpx.get(api, params={"sort": "newest"}).json()["data"]
    assert [m["created"] for m in newest] == sorted((m["created"] for m in newest), reverse=True)
    cheap = httpx.get(api, params={"sort": "pricing-low-to-high"}).json()["data"]
    totals = [Decimal(m["pricing"]["prompt"]) + Decimal(m["pricing"]["completion"]) for m in cheap]
    assert totals == sorted(totals)
    everything = httpx.get(api, params={"all": "true"}).json()
    first = httpx.get(api, params={"all": "true", "limit": "100"}).json()
    assert len(first["data"]) == 100 and first["total_count"] == everything["total_count"]
    seen = ids(first)
    next_url = first["links"]["next"]
    pages = 0
    while next_url and pages < 50:
        page = httpx.get(f"{url}{next_url}").json()
        seen += ids(page)
        next_url = page["links"]["next"]
        pages += 1
    assert seen == ids(everything)
    bad = httpx.get(api, params={"limit": "5000"})
    assert bad.status_code == 400 and bad.json()["error"]["metadata"]["param"] == "limit"
    assert httpx.get(api, params={"sort": "sideways"}).json()["error"]["metadata"]["param"] == "sort"


def test_the_sdk_counts_lists_pages_and_lists_zdr(site: tuple[str, str]) -> None:
    url, key = site
    with OpenRouter(api_key=key, server_url=f"{url}/api/v1") as client:
        count = client.models.count().data.count
        assert count == len(httpx.get(f"{url}/api/v1/models").json()["data"])
        res = client.models.list()  # the SDK asks for offset=0&limit=500 and follows `next`
        assert res is not None
        listed = [m.id for m in res.result.data]
        while res is not None and (res := res.next()) is not None:
            listed += [m.id for m in res.result.data]
        assert sorted(listed) == sorted(ids(httpx.get(f"{url}/api/v1/models").json()))
        zdr = client.endpoints.list_zdr_endpoints()
        assert [e.model_id for e in zdr.data] == ["acme/private"]
        user = client.models.list_for_user(security={"bearer": key})
        assert user is not None
        usable = {m.id for m in user.result.data}
        assert {"acme/private", "z-ai/glm-4.6", "meta-llama/llama-3.3-70b-instruct"} <= usable
        assert "anthropic/claude-sonnet-4.6" not in usable  # no Anthropic key here
        with_reasoning = [m for m in res_all(client) if "reasoning" in (m.supported_parameters or [])]
        assert with_reasoning and all(m.reasoning is not None for m in with_reasoning)


def res_all(client: OpenRouter) -> list[object]:
    res = client.models.list(limit=1000)
    assert res is not None
    return list(res.result.data)


def test_models_user_needs_a_key(site: tuple[str, str]) -> None:
    url, _ = site
    r = httpx.get(f"{url}/api/v1/models/user")
    assert r.status_code == 401 and r.json()["error"]["code"] == 401


@pytest.mark.parametrize(("model_id", "expected"), [
    ("anthropic/claude-sonnet-4.6", "anthropic/claude-sonnet"),
    ("google/gemini-2.5-pro", "google/gemini-pro"),
    ("z-ai/glm-4.6", "z-ai/glm"),
    ("z-ai/glm-4.6v", "z-ai/glm"),
    ("openai/gpt-4o", "openai/gpt"),
    ("anthropic/claude-3.5-sonnet-20241022", "anthropic/claude-sonnet"),
])
def test_families(model_id: str, expected: str) -> None:
    assert family(model_id) == expected


def test_latest_aliases_resolve_to_the_newest_available_model_of_the_family(site: tuple[str, str], tmp_path: Path) -> None:
    url, key = site
    r = httpx.get(f"{url}/api/v1/models/~meta-llama/llama-instruct-latest/endpoints")
    assert r.status_code == 200
    target = r.json()["data"]["id"]
    llamas = [m for m in httpx.get(f"{url}/api/v1/models", params={"model_authors": "meta-llama"}).json()["data"]
              if family(m["id"]) == "meta-llama/llama-instruct"]
    assert target == max(llamas, key=lambda m: (m["created"], m["id"]))["id"]
    chat = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": "~meta-llama/llama-instruct-latest", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"] == "echo: hi"
    unknown = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                         json={"model": "~nobody/nothing-latest", "messages": [{"role": "user", "content": "hi"}]})
    assert unknown.status_code == 400 and unknown.json()["error"]["metadata"]["param"] == "model"
