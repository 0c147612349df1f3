"""Response caching over real sockets: hits replay with zero usage, misses and errors reach the upstream."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Upstream, create_key, gateway_config
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.response_cache import Cached, MemoryEntries, decode, encode
from turnout.model.chat import ToolCall
from turnout.model.result import ChatResult
from turnout.model.stream import Finish, TextDelta, ToolCallDelta
from turnout.settings import load_settings

ADMIN = "sk-tn-admin-v1-cache-admin-key-0123456789abc"
CACHE = {"X-OpenRouter-Cache": "true"}


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("rcache"), admin_key=ADMIN,
                             catalog_dataset=False, providers=config["providers"], models=config["models"])  # type: ignore[arg-type]
    key, other = create_key(settings, "cache-a"), create_key(settings, "cache-b")
    with serve(create_app(settings)) as url:
        yield url, key, other


def chat(url: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}", **(headers or {})}, timeout=30)


def body(text: str, model: str = "test/echo", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def test_a_hit_replays_the_answer_with_zero_usage_and_names_its_source(site: tuple[str, str, str],
                                                                       upstream: Upstream) -> None:
    url, key, _ = site
    before = len(upstream.state.requests)
    first = chat(url, key, body("cache me"), CACHE)
    second = chat(url, key, body("cache me"), CACHE)
    assert first.status_code == second.status_code == 200
    assert len(upstream.state.requests) == before + 1  # the second never reached the upstream
    a, b = first.json(), second.json()
    assert b["choices"][0]["message"]["content"] == a["choices"][0]["message"]["content"] == "echo: cache me"
    assert b["id"] != a["id"] and second.headers["x-generation-id"] == b["id"]
    assert second.headers["x-openrouter-cache-source-id"] == a["id"] and "x-openrouter-cache-source-id" not in first.headers
    assert a["usage"]["prompt_tokens"] > 0 and a["usage"]["cost"] > 0
    assert b["usage"]["prompt_tokens"] == b["usage"]["completion_tokens"] == 0 and b["usage"]["cost"] == 0
    record = httpx.get(f"{url}/api/v1/generation", params={"id": b["id"]}, headers={"Authorization": f"Bearer {key}"})
    gen = record.json()["data"]
    assert gen["total_cost"] == 0 and gen["attempts"][0]["outcome"] == "cache_hit"
    assert a["id"] in gen["attempts"][0]["reason"]


def test_what_is_not_cached(site: tuple[str, str, str], upstream: Upstream) -> None:
    url, key, other = site
    before = len(upstream.state.requests)
    chat(url, key, body("no header"))
    chat(url, key, body("no header"))
    assert len(upstream.state.requests) == before + 2  # opt-in only
    before = len(upstream.state.requests)
    chat(url, key, body("per key"), CACHE)
    chat(url, other, body("per key"), CACHE)  # another API key: another cache entry
    chat(url, key, body("per key", temperature=0.5), CACHE)  # another body
    chat(url, key, body("per key", stream=True), CACHE).read()  # another stream mode
    assert len(upstream.state.requests) == before + 4
    before = len(upstream.state.requests)
    for _ in range(2):
        assert chat(url, key, body("boom", model="test/error-500"), CACHE).status_code >= 500
    assert len(upstream.state.requests) == before + 2  # errors are never stored
    before = len(upstream.state.requests)
    chat(url, key, body("off"), {"X-OpenRouter-Cache": "false"})
    chat(url, key, body("off"), {"X-OpenRouter-Cache": "false"})
    assert len(upstream.state.requests) == before + 2


def test_a_stream_is_replayed_as_a_stream(site: tuple[str, str, str], upstream: Upstream) -> None:
    url, key, _ = site
    req = body("stream me", stream=True, stream_options={"include_usage": True})

    def run() -> tuple[str, list[dict[str, Any]], httpx.Response]:
        r = chat(url, key, req, CACHE)
        chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        return text, chunks, r

    before = len(upstream.state.requests)
    text1, chunks1, _ = run()
    text2, chunks2, r2 = run()
    assert len(upstream.state.requests) == before + 1
    assert text1 == text2 == "echo: stream me"
    assert chunks2[-1]["usage"]["completion_tokens"] == 0 and chunks2[-1]["usage"]["cost"] == 0
    assert chunks1[-1]["usage"]["completion_tokens"] > 0
    assert r2.headers["x-openrouter-cache-source-id"] == chunks1[0]["id"]
    assert {c["id"] for c in chunks2} == {r2.headers["x-generation-id"]}
    finishes = [c["choices"][0]["finish_reason"] for c in chunks2 if c["choices"] and c["choices"][0].get("finish_reason")]
    assert finishes == ["stop"]


def test_the_anthropic_and_responses_dialects_cache_too(site: tuple[str, str, str], upstream: Upstream) -> None:
    url, key, _ = site
    auth = {"Authorization": f"Bearer {key}", **CACHE}
    before = len(upstream.state.requests)
    msgs = [httpx.post(f"{url}/api/v1/messages", headers=auth, timeout=30, json={
        "model": "test/echo", "max_tokens": 20, "messages": [{"role": "user", "content": "anthropic"}]}) for _ in range(2)]
    assert [m.json()["content"][0]["text"] for m in msgs] == ["echo: anthropic"] * 2
    assert msgs[1].json()["usage"]["input_tokens"] == 0 and msgs[1].headers["x-openrouter-cache-source-id"]
    resp = [httpx.post(f"{url}/api/v1/responses", headers=auth, timeout=30,
                       json={"model": "test/echo", "input": "responses"}) for _ in range(2)]
    assert resp[1].json()["usage"]["input_tokens"] == 0
    assert resp[0].json()["output"][0]["content"][0]["text"] == resp[1].json()["output"][0]["content"][0]["text"]
    assert len(upstream.state.requests) == before + 2


def test_the_ttl_expires(site: tuple[str, str, str], upstream: Upstream) -> None:
    url, key, _ = site
    headers = {**CACHE, "X-OpenRouter-Cache-TTL": "1"}
    before = len(upstream.state.requests)
    chat(url, key, body("short lived"), headers)
    chat(url, key, body("short lived"), headers)
    assert len(upstream.state.requests) == before + 1
    time.sleep(1.3)
    chat(url, key, body("short lived"), headers)
    assert len(upstream.state.requests) == before + 2


def test_a_preset_turns_caching_on(site: tuple[str, str, str], upstream: Upstream) -> None:
    url, key, _ = site
    r = httpx.post(f"{url}/api/v1/presets/cached/chat/completions", headers={"Authorization": f"Bearer {ADMIN}"},
                   json={"model": "test/echo", "cache_enabled": True, "cache_ttl_seconds": 60, "messages": []})
    assert r.status_code == 200, r.text
    before = len(upstream.state.requests)
    chat(url, key, body("via preset", model="@preset/cached"))
    second = chat(url, key, body("via preset", model="@preset/cached"))
    assert len(upstream.state.requests) == before + 1 and second.headers.get("x-openrouter-cache-source-id")


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.redis
def test_replicas_share_the_cache_through_redis(upstream: Upstream, tmp_path: Path) -> None:
    if not reachable(6379):
        pytest.skip("no Redis server at 127.0.0.1:6379")
    from tests.unit.store.backends import ran

    config = gateway_config(upstream.url)
    settings = load_settings(None, env={}, data_dir=tmp_path, catalog_dataset=False, redis_url="redis://127.0.0.1:6379/0",
                             providers=config["providers"], models=config["models"])  # type: ignore[arg-type]
    key = create_key(settings, "shared")
    text = f"shared {time.time_ns()}"
    with serve(create_app(settings)) as one, serve(create_app(settings)) as two:
        before = len(upstream.state.requests)
        first = chat(one, key, body(text), CACHE)
        second = chat(two, key, body(text), CACHE)
        assert len(upstream.state.requests) == before + 1
        assert second.headers["x-openrouter-cache-source-id"] == first.json()["id"]
        s1 = chat(one, key, body(text, stream=True), CACHE)
        s2 = chat(two, key, body(text, stream=True), CACHE)
        assert s2.headers["x-openrouter-cache-source-id"] == s1.headers["x-generation-id"]
        assert "echo: " in s2.text
    ran("redis")


def test_memory_is_bounded_least_recently_used_out() -> None:
    mem = MemoryEntries(max_bytes=8 * 1024)
    for i in range(20):
        mem.put(f"k{i}", Cached(f"gen-{i}", "e", result=ChatResult("x" * 600, "stop")), 60)
        assert mem.bytes <= mem.max_bytes
    assert mem.get("k0") is None and mem.get("k19") is not None
    mem.put("huge", Cached("gen-h", "e", result=ChatResult("x" * 4096, "stop")), 60)
    assert mem.get("huge") is None  # over an eighth of the cache: never stored


def test_the_shared_form_round_trips() -> None:
    whole = Cached("gen-1", "p|m|u", result=ChatResult("hi", "tool_calls", tool_calls=[ToolCall("c1", "f", "{}")]))
    again = decode(encode(whole))
    assert again.result == whole.result and again.source_id == "gen-1"
    stream = Cached("gen-2", "p|m|u", events=[TextDelta("a"), ToolCallDelta(0, "c", "f", "{}"), Finish("stop", "end")])
    assert decode(encode(stream)).events == stream.events
