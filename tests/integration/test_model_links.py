"""`links.details` in the model list is an absolute URL: the configured `public_url`, else the
request's Host when it is on `public_hosts`, else the server's own address; never a spoofed Host."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openrouter import OpenRouter
from starlette.applications import Starlette

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.api.catalog_wire import MAX_BASES
from turnout.app import create_app
from turnout.settings import Settings, load_settings


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings, Starlette]]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("links"), catalog_dataset=False,
                             providers=config["providers"], models=config["models"])
    app = create_app(settings)
    with serve(app) as url:
        yield url, settings, app


def details(url: str, host: str | None = None, **params: str) -> list[str]:
    r = httpx.get(f"{url}/api/v1/models", params=params, headers={"host": host} if host else {}, timeout=10)
    assert r.status_code == 200, r.text
    return [m["links"]["details"] for m in r.json()["data"]]


def test_links_are_absolute_and_lead_to_the_endpoints(site: tuple[str, Settings, Starlette]) -> None:
    url, _, _ = site
    links = details(url)
    assert links and all(link.startswith(f"{url}/api/v1/models/") and link.endswith("/endpoints") for link in links)
    r = httpx.get(links[0], timeout=10)
    assert r.status_code == 200 and r.json()["data"]["endpoints"]
    # the filtered, sorted and paged forms too
    for params in ({"supported_parameters": "tools"}, {"order": "newest"}, {"limit": "2", "offset": "0"}):
        got = details(url, **params)
        assert got and all(link.startswith(f"{url}/api/v1/models/") for link in got)


def test_a_spoofed_host_is_never_reflected(site: tuple[str, Settings, Starlette]) -> None:
    url, settings, _ = site
    for host in ("evil.example", 'localhost:80"x', "localhost:abc"):
        links = details(url, host)
        assert all(link.startswith(f"http://127.0.0.1:{settings.port}/api/v1/models/") for link in links), links[:1]
        assert all("evil" not in link for link in details(url, host, order="newest"))


def test_one_body_per_base_and_bounded(site: tuple[str, Settings, Starlette]) -> None:
    url, _, app = site
    catalog = app.state.runtime.catalog
    first = httpx.get(f"{url}/api/v1/models", headers={"host": "localhost:1"}).content
    assert b'"details":"http://localhost:1/api/v1/models/' in first
    assert httpx.get(f"{url}/api/v1/models", headers={"host": "localhost:1"}).content == first
    for port in range(2, 3 * MAX_BASES):  # "localhost" on public_hosts allows any port
        body = httpx.get(f"{url}/api/v1/models", headers={"host": f"localhost:{port}"}).json()
        assert body["data"][0]["links"]["details"].startswith(f"http://localhost:{port}/api/v1/models/")
    assert len(catalog.rendered) <= MAX_BASES + 2


def test_a_configured_public_url_wins(site: tuple[str, Settings, Starlette], tmp_path: Path) -> None:
    _, settings, _ = site
    configured = dataclasses.replace(settings, data_dir=tmp_path, public_url="https://llm.example.com/gw")
    key = create_key(configured, "links")
    with serve(create_app(configured)) as url:
        for host in (None, "evil.example"):
            assert all(link.startswith("https://llm.example.com/gw/api/v1/models/") for link in details(url, host))
        with OpenRouter(api_key=key, server_url=f"{url}/api/v1") as client:
            res = client.models.list()
            assert res is not None and res.result.data
            assert all(m.links.details.startswith("https://llm.example.com/gw/api/v1/models/") for m in res.result.data)
