"""/health, /ready and the Server-Timing header."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.conftest import Gateway, Upstream
from tests.fakes.server import serve
from tests.operations.conftest import settings_for
from turnout.app import create_app


def test_health_says_what_it_checked(ops_gateway: Gateway) -> None:
    r = httpx.get(f"{ops_gateway.url}/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"event_loop": {"ok": True}}}


def test_ready_checks_the_store_and_the_catalog(ops_gateway: Gateway) -> None:
    r = httpx.get(f"{ops_gateway.url}/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert checks["store"]["ok"] is True and checks["store"]["backend"] == "SQLiteStore"
    assert checks["catalog"]["ok"] is True and checks["catalog"]["models"] > 0
    assert checks["accepting"] == {"ok": True}
    assert checks["local_model"]["required"] is False
    assert "redis" not in checks  # not configured: not checked


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ready_fails_when_redis_is_configured_but_unreachable(upstream: Upstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, redis_url=f"redis://127.0.0.1:{_dead_port()}/0")
    with serve(create_app(settings)) as url:
        r = httpx.get(f"{url}/ready", timeout=10)
        assert httpx.get(f"{url}/health").status_code == 200  # alive, only not ready
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "not ready"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["store"]["ok"] is True


def test_ready_checks_redis_when_configured(upstream: Upstream, tmp_path: Path) -> None:
    settings = settings_for(upstream, tmp_path, redis_url="redis://127.0.0.1:6379/0")
    with serve(create_app(settings)) as url:
        r = httpx.get(f"{url}/ready", timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["redis"]["ok"] is True


def _timing(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, dur = part.strip().split(";dur=")
        out[name] = float(dur)
    return out


def test_server_timing_on_every_answer(ops_gateway: Gateway) -> None:
    headers = {"authorization": f"Bearer {ops_gateway.key}"}
    body = {"model": "test/slow", "delay": 0.3, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(f"{ops_gateway.api}/chat/completions", headers=headers, json=body, timeout=30)
    assert r.status_code == 200, r.text
    t = _timing(r.headers["server-timing"])
    assert t["upstream"] >= 300  # the fake waited 0.3 s
    assert t["gateway"] < t["upstream"]
    assert abs(t["total"] - t["gateway"] - t["upstream"]) < 0.1
    with httpx.stream("POST", f"{ops_gateway.api}/chat/completions", headers=headers, timeout=30,
                      json={**body, "stream": True, "model": "test/echo"}) as s:
        assert "upstream;dur=" in s.headers["server-timing"]
    # errors, other routes and the web UI too
    for resp in (httpx.post(f"{ops_gateway.api}/chat/completions", headers=headers, json={"model": "nope/x", "messages": []}),
                 httpx.get(f"{ops_gateway.api}/models"), httpx.get(f"{ops_gateway.url}/health"),
                 httpx.get(f"{ops_gateway.url}/")):
        assert _timing(resp.headers["server-timing"])["upstream"] == 0
