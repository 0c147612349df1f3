"""The web catalog with the whole dataset: paged on the server, filtered, and each model page renders."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import Upstream
from tests.fakes.server import serve

from turnout.app import create_app
from turnout.settings import load_settings
from turnout.web.catalog_view import PAGE_SIZE


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    providers = {"deepinfra": {"base_url": f"{upstream.url}/v1", "api_key": "di-test"}}
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("web-scale"), providers=providers)
    with serve(create_app(settings)) as url:
        yield url


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-model="([^"]+)"', html)


def test_the_catalog_is_paged_on_the_server(site: str) -> None:
    first = httpx.get(f"{site}/models", params={"all": "1"})
    assert first.status_code == 200
    total = int(re.search(r'id="model-count">(\d+) shown', first.text).group(1))  # type: ignore[union-attr]
    assert total > 1000
    assert len(cards(first.text)) == PAGE_SIZE
    assert f"Page 1 of {(total + PAGE_SIZE - 1) // PAGE_SIZE}" in first.text
    second = httpx.get(f"{site}/models", params={"all": "1", "page": "2"})
    assert len(cards(second.text)) == PAGE_SIZE and not set(cards(first.text)) & set(cards(second.text))
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text


def test_by_default_only_what_a_key_unlocks_and_the_built_in_models(site: str) -> None:
    page = httpx.get(f"{site}/models", params={"q": "llama 3.3 70b"}).text
    shown = cards(page)
    assert "meta-llama/llama-3.3-70b-instruct" in shown  # DeepInfra has a key here
    everything = cards(httpx.get(f"{site}/models", params={"q": "claude", "all": "1"}).text)
    default = cards(httpx.get(f"{site}/models", params={"q": "claude"}).text)
    assert "anthropic/claude-sonnet-4.6" not in default  # only Anthropic-hosted here: no key
    assert "anthropic/claude-sonnet-4.6" in everything


def test_a_dataset_model_page_renders(site: str) -> None:
    r = httpx.get(f"{site}/models/meta-llama/llama-3.3-70b-instruct")
    assert r.status_code == 200
    assert "Deep Infra" in r.text and "Groq" in r.text
