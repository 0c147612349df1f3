"""Fixtures for the web UI: a gateway of its own (the built-in z-ai provider pointed at the fake
upstream), recorded traffic to draw charts from, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve

from turnout.app import create_app
from turnout.settings import Settings, load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web UI in headless Chromium (Playwright)")


@dataclass
class WebGateway:
    url: str
    key: str
    settings: Settings
    upstream: Upstream

    def chat(self, model: str, text: str, *, stream: bool = True, headers: dict[str, str] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return httpx.post(
            f"{self.url}/api/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {self.key}", **(headers or {})},
            timeout=10,
        )

    def activity(self) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/ui/api/activity", headers={"authorization": f"Bearer {self.key}"}, timeout=10)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def wait_for_records(self, count: int, timeout: float = 5.0) -> dict[str, Any]:
        """Generation records are written in batches off the request path; wait until they land."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.activity()
            if data["totals"]["requests"] >= count or time.monotonic() > deadline:
                return data
            time.sleep(0.05)


    def wait_for_generation(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [g for g in self.activity()["generations"] if match(g)]
            if found:
                return found[0]
            assert time.monotonic() < deadline, "the generation record never landed"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def web(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebGateway]:
    config = gateway_config(upstream.url)
    providers: dict[str, Any] = dict(config["providers"])  # type: ignore[call-overload]
    # The built-in z-ai provider has no key in tests: point it at the fake upstream, which answers
    # any model name it does not know as the "echo" scenario.
    providers["z-ai"] = {"base_url": f"{upstream.url}/v1", "api_key": "sk-upstream"}
    settings = load_settings(
        None, env={}, data_dir=tmp_path_factory.mktemp("turnout-web"), keepalive_interval=0.5, read_timeout=2.0,
        catalog_dataset=False,  # these pages are checked against the seed models' exact figures
        providers=providers, models=config["models"],  # type: ignore[arg-type]
    )
    key = create_key(settings, "web")
    with serve(create_app(settings)) as url:
        yield WebGateway(url, key, settings, upstream)


@pytest.fixture(scope="session")
def bare_web(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebGateway]:
    """A gateway as a new user has it: no Z.ai or EmpirioLabs key (the test models on the fake
    upstream can answer, so something can whether or not the local extras are installed)."""
    config = gateway_config(upstream.url)
    saved = {k: os.environ.pop(k) for k in ("ZAI_API_KEY", "EMPIRIOLABS_API_KEY") if k in os.environ}
    try:
        settings = load_settings(
            None, env={}, data_dir=tmp_path_factory.mktemp("turnout-bare-web"),
            providers=config["providers"], models=config["models"],  # type: ignore[arg-type]
        )
        key = create_key(settings, "bare")
        with serve(create_app(settings)) as url:
            yield WebGateway(url, key, settings, upstream)
    finally:
        os.environ.update(saved)


@dataclass(frozen=True)
class Traffic:
    requests: int
    glm_tokens: int  # prompt + completion tokens of every z-ai/glm-4.6 request


@pytest.fixture(scope="session")
def traffic(web: WebGateway) -> Traffic:
    """Recorded requests to chart: apps with titles, streamed and not, and a model whose cheaper
    endpoint always fails (test/fallback: provider fake answers 500, fake2 answers)."""
    sent = 0
    for i in range(4):
        r = web.chat("z-ai/glm-4.6", f"seed traffic {i}", headers={"x-title": "Seed Tester", "http-referer": "https://seed.example/"})
        assert r.status_code == 200
        sent += 1
    for i in range(2):
        assert web.chat("z-ai/glm-4.6", f"other app {i}", stream=False, headers={"x-title": "Other App"}).status_code == 200
        sent += 1
    for i in range(3):
        assert web.chat("test/fallback", f"fallback {i}", stream=False).status_code == 200
        sent += 1
    data = web.wait_for_records(sent)
    assert data["totals"]["requests"] == sent
    by_model = {m["name"]: m for m in data["by_model"]}
    return Traffic(requests=sent, glm_tokens=by_model["z-ai/glm-4.6"]["tokens"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, web: WebGateway) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=web.url)
    context.add_init_script(f"localStorage.setItem('turnout.key', {web.key!r});")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every page runs under the UI's Content-Security-Policy: anything it blocks is a bug of the page.
    pg.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert not errors, f"script errors or CSP violations on the page: {errors}"


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page in a full-page shot
    page.screenshot(path=str(path), full_page=full_page)
    return path
