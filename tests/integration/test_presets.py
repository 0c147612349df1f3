"""Presets over real sockets: the official SDK's preset calls, and presets used from every inbound dialect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import Settings, load_settings

ADMIN = "sk-tn-admin-v1-presets-admin-key-0123456789"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Settings]]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("presets"), admin_key=ADMIN,
                             providers=config["providers"], models=config["models"], catalog_dataset=False)  # type: ignore[arg-type]
    key = create_key(settings, "presets")
    with serve(create_app(settings)) as url:
        yield url, key, settings


def last_upstream_body(upstream: Upstream, before: int) -> dict[str, Any]:
    sent = upstream.state.requests[before:]
    assert len(sent) == 1
    body: dict[str, Any] = sent[0]["body"]
    return body


def test_the_sdk_creates_reads_and_versions_a_preset(site: tuple[str, str, Settings]) -> None:
    url, _, _ = site
    with OpenRouter(api_key=ADMIN, server_url=f"{url}/api/v1") as admin:
        made = admin.presets.create_presets_chat_completions(
            slug="sdk-support", model="test/echo", temperature=0.2, tools=[WEATHER],
            messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "ignored"}])
        assert made.data.slug == "sdk-support" and made.data.status == "active"
        v1 = made.data.designated_version
        assert v1 is not None and v1.version == 1 and v1.system_prompt == "You are terse."
        assert v1.config["temperature"] == 0.2 and "messages" not in v1.config
        again = admin.presets.create_presets_chat_completions(slug="sdk-support", model="test/echo", temperature=0.7,
                                                              messages=[{"role": "user", "content": "x"}])
        assert again.data.designated_version is not None and again.data.designated_version.version == 2
        got = admin.presets.get(slug="sdk-support")
        assert got.data.designated_version is not None and got.data.designated_version.config["temperature"] == 0.7
        versions = admin.presets.list_versions(slug="sdk-support")
        assert versions is not None and [v.version for v in versions.result.data if v] == [2, 1]
        listed = admin.presets.list()
        assert listed is not None and "sdk-support" in {p.slug for p in listed.result.data}


def test_a_preset_applies_in_every_form_and_request_fields_win(site: tuple[str, str, Settings], upstream: Upstream) -> None:
    url, key, _ = site
    admin = {"Authorization": f"Bearer {ADMIN}"}
    r = httpx.post(f"{url}/api/v1/presets/support/chat/completions", headers=admin, json={
        "model": "test/echo", "temperature": 0.2, "max_tokens": 77, "tools": [WEATHER],
        "messages": [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {key}"}

    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/chat/completions", headers=auth, json={
        "model": "@preset/support", "messages": [{"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text
    sent = last_upstream_body(upstream, before)
    assert sent["model"] == "echo" and sent["temperature"] == 0.2 and sent["max_tokens"] == 77
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert "preset" not in sent

    # author/model@preset/slug picks the model; the request's own temperature and tools win or merge.
    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/chat/completions", headers=auth, json={
        "model": "test/tools@preset/support", "temperature": 1.5, "tools": [CLOCK],
        "messages": [{"role": "system", "content": "Mine."}, {"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text
    sent = last_upstream_body(upstream, before)
    assert sent["model"] == "tools" and sent["temperature"] == 1.5 and sent["max_tokens"] == 77
    assert [m["content"] for m in sent["messages"] if m["role"] == "system"] == ["Mine."]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time", "get_weather"]

    # The body field `preset`, from the Anthropic and Responses dialects too.
    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/messages", headers=auth, json={
        "model": "@preset/support", "max_tokens": 10, "messages": [{"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text
    sent = last_upstream_body(upstream, before)
    assert sent["temperature"] == 0.2 and sent["messages"][0]["content"] == "Answer in French."
    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/responses", headers=auth, json={"model": "test/echo", "preset": "support", "input": "hello"})
    assert r.status_code == 200, r.text
    assert last_upstream_body(upstream, before)["temperature"] == 0.2


def test_a_preset_made_from_anthropic_messages_serves_an_openai_request(site: tuple[str, str, Settings],
                                                                       upstream: Upstream) -> None:
    url, key, _ = site
    r = httpx.post(f"{url}/api/v1/presets/claude-style/messages", headers={"Authorization": f"Bearer {ADMIN}"}, json={
        "model": "test/echo", "max_tokens": 33, "system": "Be brief.", "stop_sequences": ["END"],
        "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    before = len(upstream.state.requests)
    r = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json={
        "model": "@preset/claude-style", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    sent = last_upstream_body(upstream, before)
    assert sent["max_tokens"] == 33 and sent["stop"] == ["END"] and sent["messages"][0]["content"] == "Be brief."


def test_errors_are_clear(site: tuple[str, str, Settings]) -> None:
    url, key, _ = site
    r = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                   json={"model": "@preset/nope", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "preset"
    assert httpx.get(f"{url}/api/v1/presets", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    bad = httpx.post(f"{url}/api/v1/presets/Bad Slug!/chat/completions", headers={"Authorization": f"Bearer {ADMIN}"},
                     json={"model": "test/echo", "messages": []})
    assert bad.status_code == 400
    broken = httpx.post(f"{url}/api/v1/presets/broken/chat/completions", headers={"Authorization": f"Bearer {ADMIN}"},
                        json={"model": "test/echo", "temperature": "hot", "messages": []})
    assert broken.status_code == 400 and broken.json()["error"]["metadata"]["param"] == "temperature"


def test_a_preset_saved_elsewhere_is_seen_within_seconds(site: tuple[str, str, Settings], upstream: Upstream) -> None:
    url, key, settings = site
    from turnout.runtime import open_store

    store = open_store(settings)  # another process (a replica, the CLI) writes the store directly
    try:
        store.save_preset("from-elsewhere", "x", "openai", {"model": "test/echo", "seed": 42}, None, time.time())
    finally:
        store.close()
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline:
        before = len(upstream.state.requests)
        r = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "@preset/from-elsewhere", "messages": [{"role": "user", "content": "hi"}]})
        status = r.status_code
        if status == 200:
            assert last_upstream_body(upstream, before)["seed"] == 42
            break
        time.sleep(0.2)
    assert status == 200


def test_presets_survive_a_restart(upstream: Upstream, tmp_path: Path) -> None:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path, admin_key=ADMIN, catalog_dataset=False,
                             providers=config["providers"], models=config["models"])  # type: ignore[arg-type]
    key = create_key(settings, "restart")
    with serve(create_app(settings)) as url:
        assert httpx.post(f"{url}/api/v1/presets/keep/chat/completions", headers={"Authorization": f"Bearer {ADMIN}"},
                          json={"model": "test/echo", "messages": []}).status_code == 200
    with serve(create_app(settings)) as url:
        r = httpx.post(f"{url}/api/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "@preset/keep", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "echo: hi"
