"""X-OpenRouter-Categories over real sockets: recorded with app attribution (only OpenRouter's
categories, bounded), and honoured by `/apps?category=`, `GET /models?category=` and the model
page's Apps and Activity sections."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.money import categories
from turnout.runtime import open_store
from turnout.settings import Settings, load_settings


@dataclass
class Site:
    url: str
    key: str
    settings: Settings

    def chat(self, model: str, title: str, referer: str, cats: str, text: str = "hello") -> None:
        r = httpx.post(f"{self.url}/api/v1/chat/completions", timeout=20, json={
            "model": model, "messages": [{"role": "user", "content": text}]}, headers={
            "authorization": f"Bearer {self.key}", "x-title": title, "http-referer": referer,
            "x-openrouter-categories": cats})
        assert r.status_code == 200, r.text

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers={"authorization": f"Bearer {self.key}"}, timeout=20)


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("categories"), catalog_dataset=False,
                             providers=config["providers"], models=config["models"])
    key = create_key(settings, "categories")
    with serve(create_app(settings)) as url:
        s = Site(url, key, settings)
        for i in range(3):
            s.chat("test/echo", "Coder", "https://coder.example/x", "cli-agent, bogus,PROGRAMMING-APP", f"code {i}")
        s.chat("test/echo", "Writer", "https://writer.example", "creative-writing", "a long story " * 20)
        s.chat("test/reasoning", "Writer", "https://writer.example", "creative-writing")
        s.chat("test/tools", "Plain", "https://plain.example", "")
        deadline = time.monotonic() + 10
        while not s.get("/api/v1/apps", category="creative-writing").json()["data"]:
            assert time.monotonic() < deadline, "categories were not recorded within 10 s"
            time.sleep(0.1)
        yield s


def apps(site: Site, **params: str) -> list[str]:
    r = site.get("/api/v1/apps", **params)
    assert r.status_code == 200, r.text
    return [a["title"] for a in r.json()["data"]]


def test_apps_filter_by_category(site: Site) -> None:
    assert set(apps(site)) == {"Coder", "Writer", "Plain"}
    assert apps(site, category="cli-agent") == ["Coder"] == apps(site, category="programming-app")
    assert apps(site, category="creative-writing") == ["Writer"]
    assert apps(site, category="creative-writing", model="test/reasoning") == ["Writer"]
    assert apps(site, category="roleplay") == []
    r = site.get("/api/v1/apps", category="bogus")
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "category"


def test_only_openrouters_categories_are_kept_and_bounded() -> None:
    assert categories.parse("cli-agent, bogus,PROGRAMMING-APP,cli-agent") == ("cli-agent", "programming-app")
    assert len(categories.parse(",".join(categories.CATEGORIES))) == categories.MAX_PER_REQUEST
    assert categories.parse("cli-agent," + "x" * 2000) == ()  # an oversized header is ignored whole
    book = categories.AppCategories()
    for i in range(categories.MAX_PENDING + 10):
        book.note(f"https://app{i}.example", ("game",))
    assert len(book.drain()) == categories.MAX_PENDING


def test_stored_pairs(site: Site) -> None:
    store = open_store(site.settings)
    try:
        assert [m for m, _ in store.models_by_category("creative-writing", "2000-01-01")] == ["test/echo", "test/reasoning"]
        assert store.models_by_category("game", "2000-01-01") == []
    finally:
        store.close()


def test_models_by_category(site: Site) -> None:
    ids = [m["id"] for m in site.get("/api/v1/models", category="creative-writing").json()["data"]]
    assert ids == ["test/echo", "test/reasoning"]  # the long story makes test/echo the most used
    assert [m["id"] for m in site.get("/api/v1/models", category="cli-agent").json()["data"]] == ["test/echo"]
    assert site.get("/api/v1/models", category="legal").json()["data"] == []
    assert site.get("/api/v1/models", category="nope").status_code == 400


def _activity_total(html: str) -> int:
    m = re.search(r'data-testid="activity-total">([\d,]+)<', html)
    assert m is not None
    return int(m.group(1).replace(",", ""))


def test_the_model_page_apps_and_activity_honour_the_category(site: Site) -> None:
    everything = site.get("/models/test/echo").text
    coders = site.get("/models/test/echo", category="cli-agent").text
    writers = site.get("/models/test/echo", category="creative-writing").text
    assert "Coder" in everything and "Writer" in everything
    apps_of = {name: html.split('id="apps"')[1].split("</section>")[0] for name, html in
               (("coders", coders), ("writers", writers))}
    assert "Coder" in apps_of["coders"] and "Writer" not in apps_of["coders"]
    assert "Writer" in apps_of["writers"] and "Coder" not in apps_of["writers"]
    total, coder_total, writer_total = _activity_total(everything), _activity_total(coders), _activity_total(writers)
    assert 0 < coder_total < total and 0 < writer_total < total and coder_total + writer_total == total
    assert 'data-testid="apps-categories"' in coders
    # an unknown category is ignored: the whole page
    assert _activity_total(site.get("/models/test/echo", category="bogus").text) == total


def test_openapi_names_the_category_parameters(site: Site) -> None:
    doc = httpx.get(f"{site.url}/api/v1/openapi.json").json()
    for path in ("/api/v1/apps", "/api/v1/models"):
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert params["category"]["schema"]["enum"] == list(categories.CATEGORIES)
    schemas = doc["components"]["schemas"]
    chat = schemas[schemas["ChatRequest"]["$ref"].rsplit("/", 1)[-1]]  # the wire type the name points at
    assert "session_id" in chat["properties"]
