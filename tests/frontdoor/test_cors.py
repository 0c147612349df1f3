"""CORS: browser apps call the inference and catalog routes with a bearer key; admin routes stay
closed to browsers. Real preflights and actual requests over loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Upstream
from tests.frontdoor.conftest import ADMIN, Served, connect, gateway_in_thread, head, read_answer

APP = "https://app.example"


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with gateway_in_thread(upstream, tmp_path_factory.mktemp("cors")) as served:
        yield served


def preflight(gw: Served, path: str, method: str = "POST", origin: str = APP,
              request_headers: str = "authorization, content-type") -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    return httpx.options(f"{gw.url}{path}", headers=headers, timeout=10)


@pytest.mark.parametrize("path", ["/api/v1/chat/completions", "/v1/chat/completions", "/api/v1/messages",
                                  "/api/v1/responses", "/api/v1/completions", "/api/v1/embeddings",
                                  "/api/v1/messages/count_tokens"])
def test_preflight_on_the_inference_routes_needs_no_key(gw: Served, path: str) -> None:
    sdk_headers = "authorization, content-type, x-stainless-os, x-stainless-retry-count, anthropic-version, x-title"
    r = preflight(gw, path, request_headers=sdk_headers)
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "POST"
    assert r.headers["access-control-allow-headers"] == sdk_headers
    assert "access-control-allow-credentials" not in r.headers
    assert int(r.headers["access-control-max-age"]) > 0


def test_preflight_is_answered_without_reading_a_body(gw: Served) -> None:
    """A preflight that announces a body it never sends is still answered at once."""
    with connect(gw.port, timeout=3) as s:
        s.sendall(head("OPTIONS", "/api/v1/chat/completions", {
            "Origin": APP, "Access-Control-Request-Method": "POST", "Content-Length": "1000000"}))
        answer = read_answer(s)
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == "*"


def test_actual_requests_carry_the_cors_headers(gw: Served) -> None:
    auth = {"Origin": APP, "Authorization": f"Bearer {gw.key}"}
    r = httpx.post(f"{gw.url}/api/v1/chat/completions", headers=auth, timeout=20,
                   json={"model": "test/echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-generation-id" in r.headers["access-control-expose-headers"]
    streamed = httpx.post(f"{gw.url}/api/v1/chat/completions", headers=auth, timeout=20, json={
        "model": "test/echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True})
    assert streamed.status_code == 200 and streamed.headers["access-control-allow-origin"] == "*"
    # An error is readable by the page too (a missing key: the page can show why).
    keyless = httpx.post(f"{gw.url}/api/v1/messages", headers={"Origin": APP}, json={}, timeout=10)
    assert keyless.status_code == 401 and keyless.headers["access-control-allow-origin"] == "*"
    for path in ("/api/v1/models", "/api/v1/models/test/echo/endpoints", "/v1/models"):
        r = httpx.get(f"{gw.url}{path}", headers={"Origin": APP}, timeout=10)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*", path
    r = httpx.get(f"{gw.url}/api/v1/key", headers=auth, timeout=10)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    # Without an Origin (a server-side SDK), nothing is added.
    r = httpx.get(f"{gw.url}/api/v1/models", timeout=10)
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(("path", "method"), [("/api/v1/keys", "POST"), ("/api/v1/keys", "GET"),
                                              ("/api/v1/keys/abc", "PATCH"), ("/api/v1/keys/abc", "DELETE"),
                                              ("/v1/keys", "GET"), ("/api/v1/credits", "POST")])
def test_admin_routes_are_closed_to_browsers(gw: Served, path: str, method: str) -> None:
    r = preflight(gw, path, method)
    assert r.status_code == 403, r.text
    assert "access-control-allow-origin" not in r.headers
    assert "cannot be called from a browser" in r.json()["error"]["message"]
    actual = httpx.request(method, f"{gw.url}{path}", headers={"Origin": APP, "Authorization": f"Bearer {ADMIN}"},
                           json={"name": "cors-probe"} if method in ("POST", "PATCH") else None, timeout=10)
    assert "access-control-allow-origin" not in actual.headers


def test_reading_credits_is_open_granting_them_is_not(gw: Served) -> None:
    assert preflight(gw, "/api/v1/credits", "GET").status_code == 204
    assert preflight(gw, "/api/v1/credits", "POST").status_code == 403
    r = httpx.get(f"{gw.url}/api/v1/credits", headers={"Origin": APP, "Authorization": f"Bearer {gw.key}"}, timeout=10)
    assert r.headers["access-control-allow-origin"] == "*"


def test_the_web_ui_gets_no_cors_headers(gw: Served) -> None:
    r = httpx.get(f"{gw.url}/", headers={"Origin": APP}, timeout=10)
    assert "access-control-allow-origin" not in r.headers


def test_configured_origins(upstream: Upstream, tmp_path: Path) -> None:
    with gateway_in_thread(upstream, tmp_path, cors_origins=(APP, "http://localhost:3000")) as gw:
        r = preflight(gw, "/api/v1/chat/completions", origin="http://localhost:3000")
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "origin" in r.headers["vary"]
        other = preflight(gw, "/api/v1/chat/completions", origin="https://evil.example")
        assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
        r = httpx.get(f"{gw.url}/api/v1/models", headers={"Origin": APP}, timeout=10)
        assert r.headers["access-control-allow-origin"] == APP and "origin" in r.headers["vary"]
        r = httpx.get(f"{gw.url}/api/v1/models", headers={"Origin": "https://evil.example"}, timeout=10)
        assert "access-control-allow-origin" not in r.headers


def test_cors_can_be_turned_off(upstream: Upstream, tmp_path: Path) -> None:
    with gateway_in_thread(upstream, tmp_path, cors_origins=()) as gw:
        r = preflight(gw, "/api/v1/chat/completions")
        assert "access-control-allow-origin" not in r.headers
        assert r.status_code == 405
        r = httpx.get(f"{gw.url}/api/v1/models", headers={"Origin": APP}, timeout=10)
        assert "access-control-allow-origin" not in r.headers
