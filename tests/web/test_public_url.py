"""The model pages' code samples show a configured public URL, or an allow-listed Host, never an
arbitrary Host header (a spoofed one would put an attacker's address into copied code)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from tests.fakes.server import serve
from tests.web.conftest import WebGateway

from turnout.app import create_app
from turnout.settings import ConfigError, load_settings

PAGE = "/models/z-ai/glm-4.6"


def page(url: str, host: str | None = None) -> str:
    headers = {"host": host} if host else {}
    r = httpx.get(f"{url}{PAGE}", headers=headers, timeout=10)
    assert r.status_code == 200
    return r.text


def test_a_spoofed_host_is_not_reflected_into_the_samples(web: WebGateway) -> None:
    html = page(web.url, "evil.example")
    assert "evil.example" not in html
    assert f"http://127.0.0.1:{web.settings.port}/api/v1/chat/completions" in html
    # the loopback address the gateway is reached at is on the default allow-list
    assert f"{web.url}/api/v1/chat/completions" in page(web.url)


def test_a_configured_public_url_wins(web: WebGateway, tmp_path: Path) -> None:
    settings = dataclasses.replace(web.settings, data_dir=tmp_path, public_url="https://llm.example.com/gw")
    with serve(create_app(settings)) as url:
        for host in (None, "evil.example"):
            html = page(url, host)
            assert "https://llm.example.com/gw/api/v1/chat/completions" in html
            assert "evil.example" not in html and url not in html


def test_allow_listed_hosts(web: WebGateway, tmp_path: Path) -> None:
    settings = dataclasses.replace(web.settings, data_dir=tmp_path, public_hosts=("gw.example", "other.example:8443"))
    with serve(create_app(settings)) as url:
        assert "http://gw.example:9999/api/v1/chat/completions" in page(url, "gw.example:9999")
        assert "http://other.example:8443/api/v1/chat/completions" in page(url, "other.example:8443")
        refused = page(url, "other.example:8444")
        assert "other.example" not in refused and "127.0.0.1:8080/api/v1" in refused


def test_public_url_and_hosts_settings() -> None:
    s = load_settings(None, env={"TURNOUT_PUBLIC_URL": "https://a.example/", "TURNOUT_PUBLIC_HOSTS": "A.example, b.example:81"})
    assert s.public_url == "https://a.example" and s.public_hosts == ("a.example", "b.example:81")
    for bad in ("javascript:alert(1)", "https://a.example/?x=1", "a.example"):
        with pytest.raises(ConfigError):
            load_settings(None, env={"TURNOUT_PUBLIC_URL": bad})
