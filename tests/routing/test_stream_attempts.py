"""A stream's opening runs in the dispatcher's one attempt loop (core/upstream/dispatch.py), the
loop of completions and embeddings: the same attempt cap (across endpoints and model fallbacks),
and the same rule that a request the upstream refuses as the caller's fault is not tried elsewhere,
whether the refusal is an error status or the stream's first event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Upstream, create_key
from tests.fakes import anthropic_upstream
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.upstream.dispatch import MAX_ATTEMPTS
from turnout.settings import load_settings

PRICING = {"prompt": "0.000001", "completion": "0.000001"}
FAILING = MAX_ATTEMPTS + 2  # more failing endpoints than the cap allows


@dataclass
class Site:
    api: str
    key: str
    upstream: Upstream
    anthropic: anthropic_upstream.AnthropicState


@pytest.fixture(scope="module")
def site(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    state = anthropic_upstream.AnthropicState()
    with serve(anthropic_upstream.create_app(state)) as anthropic_url:
        # Each endpoint its own provider (one fake upstream behind them all), so none shares health.
        providers: dict[str, Any] = {
            f"s{i}": {"name": f"Stream {i}", "dialect": "openai", "base_url": f"{upstream.url}/v1", "api_key": f"k{i}"}
            for i in range(FAILING)
        }
        providers["refuses"] = {"name": "Refuses", "dialect": "anthropic", "base_url": anthropic_url,
                                "api_key": anthropic_upstream.API_KEY}
        providers["answers"] = {"name": "Answers", "dialect": "openai", "base_url": f"{upstream.url}/v1", "api_key": "ka"}

        def failing(tag: str, count: int) -> dict[str, Any]:
            return {"context_length": 8192, "endpoints": [
                {"provider": f"s{i}", "model": f"error-500@{tag}{i}", "pricing": PRICING} for i in range(count)]}

        models = {
            "stream/all-failing": failing("all", FAILING),
            "stream/half-a": failing("ha", MAX_ATTEMPTS // 2 + 1),
            "stream/half-b": failing("hb", MAX_ATTEMPTS // 2 + 1),
            "stream/refused-first": {"context_length": 8192, "endpoints": [
                {"provider": "refuses", "model": "early-invalid", "pricing": PRICING},
                {"provider": "answers", "model": "echo@refused", "pricing": {"prompt": "0.00001", "completion": "0.00001"}},
            ]},
        }
        settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("stream-attempts"),
                                 providers=providers, models=models)
        key = create_key(settings, "stream-attempts")
        with serve(create_app(settings)) as url:
            yield Site(f"{url}/api/v1", key, upstream, state)


def stream(site: Site, model: str, **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True, **body}
    with httpx.stream("POST", f"{site.api}/chat/completions", json=payload, timeout=20,
                      headers={"authorization": f"Bearer {site.key}"}) as r:
        r.read()
    return r


def test_a_stream_tries_no_more_endpoints_than_the_attempt_cap(site: Site) -> None:
    before = len(site.upstream.state.requests)
    r = stream(site, "stream/all-failing")
    assert r.status_code == 502, r.text
    tried = r.json()["error"]["metadata"]["previous_errors"]
    assert len(tried) == MAX_ATTEMPTS and len(site.upstream.state.requests) - before == MAX_ATTEMPTS
    assert all(a["outcome"] == "error" and a["status"] == 500 for a in tried)


def test_the_stream_attempt_cap_counts_across_model_fallbacks(site: Site) -> None:
    before = len(site.upstream.state.requests)
    r = stream(site, "stream/half-a", models=["stream/half-b"])
    assert r.status_code == 502, r.text
    tried = r.json()["error"]["metadata"]["previous_errors"]
    assert len(site.upstream.state.requests) - before == MAX_ATTEMPTS
    assert [a["model"] for a in tried] == ["stream/half-a"] * (MAX_ATTEMPTS // 2 + 1) + ["stream/half-b"] * (
        MAX_ATTEMPTS - MAX_ATTEMPTS // 2 - 1)


def test_a_refusal_as_the_first_stream_event_is_not_tried_elsewhere(site: Site) -> None:
    before = len(site.upstream.state.requests)
    r = stream(site, "stream/refused-first", provider={"sort": "price"})
    assert r.status_code == 400, r.text
    assert "prompt is too long" in r.json()["error"]["message"]
    assert len(site.upstream.state.requests) == before  # the cheaper endpoint refused the request: no fallback
    assert site.anthropic.requests[-1]["body"]["stream"] is True
