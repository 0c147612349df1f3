"""Routing like OpenRouter, over a real socket: preferences, variants, fallbacks, health."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]


def chat(gw: Gateway, model: str, **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": MSG, **body}
    return httpx.post(f"{gw.api}/chat/completions", json=payload, headers={"authorization": f"Bearer {gw.key}"}, timeout=20)


def served_by(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return str(r.json()["provider"])


def record(gw: Gateway, gen_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gw.key}"})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def test_order_is_honoured(rgateway: Gateway) -> None:
    assert served_by(chat(rgateway, "route/multi", provider={"order": ["p3", "p1"]})) == "Provider Three"
    assert served_by(chat(rgateway, "route/multi", provider={"order": ["Provider Two"]})) == "Provider Two"


def test_only_and_ignore(rgateway: Gateway) -> None:
    for _ in range(5):
        assert served_by(chat(rgateway, "route/multi", provider={"only": ["p2"]})) == "Provider Two"
        assert served_by(chat(rgateway, "route/multi", provider={"ignore": ["p1", "p2"]})) == "Provider Three"
    r = chat(rgateway, "route/multi", provider={"only": ["nobody"]})
    assert r.status_code == 404 and len(r.json()["error"]["metadata"]["excluded"]) == 3


def test_require_parameters(rgateway: Gateway) -> None:
    # p1 does not list `seed`; without require_parameters it may still serve (sorted by price it does).
    assert served_by(chat(rgateway, "route/multi", seed=1, provider={"sort": "price"})) == "Provider One"
    r = chat(rgateway, "route/multi", seed=1, provider={"sort": "price", "require_parameters": True})
    assert served_by(r) == "Provider Two"


def test_data_collection_zdr_and_quantizations(rgateway: Gateway) -> None:
    for _ in range(5):
        assert served_by(chat(rgateway, "route/multi", provider={"data_collection": "deny", "order": ["p2", "p3"]})) != "Provider Two"
    assert served_by(chat(rgateway, "route/multi", provider={"zdr": True})) == "Provider Three"
    assert served_by(chat(rgateway, "route/multi", provider={"quantizations": ["fp8"]})) == "Provider Three"


def test_max_price_excludes_and_says_why(rgateway: Gateway) -> None:
    assert served_by(chat(rgateway, "route/multi", provider={"max_price": {"prompt": 1.5, "completion": 1.5}})) == "Provider One"
    r = chat(rgateway, "route/multi", provider={"max_price": {"prompt": 0.5}})
    assert r.status_code == 404
    err = r.json()["error"]
    assert {x["excluded_by"] for x in err["metadata"]["excluded"]} == {"max_price"}
    assert "max_price" in err["message"]


def test_bad_provider_preferences_are_400(rgateway: Gateway) -> None:
    for prefs, param in [({"sort": "vibes"}, "provider.sort"), ({"order": "p1"}, "provider.order"),
                         ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"), ({"max_price": {"prompt": "x"}}, "provider.max_price.prompt")]:
        r = chat(rgateway, "route/multi", provider=prefs)
        assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == param


def test_every_inference_route_applies_the_provider_preferences(rgateway: Gateway) -> None:
    """Each route hands its `provider` object to the router (api/preferences.py parses it)."""
    headers = {"authorization": f"Bearer {rgateway.key}"}
    bodies = {
        "completions": {"prompt": "hi"},
        "messages": {"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        "responses": {"input": "hi"},
    }
    for path, body in bodies.items():
        bad = httpx.post(f"{rgateway.api}/{path}", headers=headers, timeout=20,
                         json={"model": "route/multi", "provider": {"sort": "vibes"}, **body})
        assert bad.status_code == 400 and "provider.sort" in bad.text, (path, bad.text)
        pinned = httpx.post(f"{rgateway.api}/{path}", headers=headers, timeout=20,
                            json={"model": "route/multi", "provider": {"order": ["p3"]}, **body})
        assert pinned.status_code == 200, (path, pinned.text)
        assert rgateway.upstream.state.requests[-1]["body"]["model"] == "echo@p3", path


def test_free_floor_and_exacto_variants(rgateway: Gateway) -> None:
    for _ in range(5):
        assert served_by(chat(rgateway, "route/free-mix:free")) == "Provider One"
        assert served_by(chat(rgateway, "route/multi:floor")) == "Provider One"
        assert served_by(chat(rgateway, "route/exacto-mix:exacto")) == "Provider Two"
    r = chat(rgateway, "route/multi:free")
    assert r.status_code == 404 and "free" in r.json()["error"]["message"]
    assert chat(rgateway, "route/multi:bogus").status_code == 400


def test_exacto_catalog_entry_has_its_own_pricing(rgateway: Gateway) -> None:
    models = {m["id"]: m for m in httpx.get(f"{rgateway.api}/models").json()["data"]}
    assert models["z-ai/glm-4.6:exacto"]["pricing"]["prompt"] == "0.0000006"
    assert models["z-ai/glm-4.6"]["pricing"]["prompt"] == "0.00000043"


def test_thinking_and_online_variants(rgateway: Gateway) -> None:
    r = chat(rgateway, "route/free-mix:thinking")
    assert r.status_code == 200 and r.json()["model"] == "route/free-mix:thinking"
    sent = rgateway.upstream.state.requests[-1]["body"]
    assert sent["reasoning"] == {"enabled": True}
    # :online is the web plugin: without a native search or a configured engine, a clear 400
    r = chat(rgateway, "route/free-mix:online")
    assert r.status_code == 400 and "web_search.engines" in r.json()["error"]["message"]


def test_nitro_sorts_by_measured_throughput(rgateway: Gateway) -> None:
    # p1 (cheaper) answers after 0.3 s, p2 at once: after traffic to both, :nitro prefers p2.
    for order in (["p1"], ["p2"], ["p1"], ["p2"]):
        served_by(chat(rgateway, "route/speed", provider={"order": order, "allow_fallbacks": False}))
    assert served_by(chat(rgateway, "route/speed:nitro")) == "Provider Two"
    assert served_by(chat(rgateway, "route/speed:floor")) == "Provider One"
    assert served_by(chat(rgateway, "route/speed", provider={"sort": "latency"})) == "Provider Two"


def test_fallback_across_endpoints_is_recorded_with_reasons(rgateway: Gateway) -> None:
    r = chat(rgateway, "route/fallback", provider={"sort": "price"})
    assert served_by(r) == "Provider Two"
    attempts = record(rgateway, r.json()["id"])["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("p1", "error"), ("p2", "ok")]
    assert attempts[0]["reason"] == "sorted by price" and "fallback 1" in attempts[1]["reason"]


def test_allow_fallbacks_false_returns_the_upstream_error(rgateway: Gateway) -> None:
    r = chat(rgateway, "route/fallback", provider={"order": ["p1"], "allow_fallbacks": False})
    assert r.status_code == 502 and r.json()["error"]["metadata"]["provider_name"] == "Provider One"


def test_fallback_across_models(rgateway: Gateway) -> None:
    r = chat(rgateway, "route/all-fail", models=["route/all-fail", "route/free-mix"], provider={"sort": "price"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "route/free-mix"
    attempts = record(rgateway, r.json()["id"])["attempts"]
    assert [a["model"] for a in attempts] == ["route/all-fail", "route/all-fail", "route/free-mix"]
    # Every model failing: the last model's error comes back.
    r = chat(rgateway, "route/all-fail", models=["route/fallback"], provider={"order": ["p1"], "allow_fallbacks": False})
    assert r.status_code == 502


def test_caller_faults_are_not_retried(rgateway: Gateway) -> None:
    before = len(rgateway.upstream.state.requests)
    r = chat(rgateway, "route/bad-request", provider={"sort": "price"})
    assert r.status_code == 400
    assert len(rgateway.upstream.state.requests) == before + 1


def test_no_fallback_after_the_first_streamed_byte(rgateway: Gateway) -> None:
    with httpx.stream("POST", f"{rgateway.api}/chat/completions", headers={"authorization": f"Bearer {rgateway.key}"},
                      json={"model": "route/cut-first", "messages": [{"role": "user", "content": "a b c d"}], "stream": True,
                            "provider": {"sort": "price"}}, timeout=20) as r:
        body = r.read().decode()
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    assert r.status_code == 200
    assert frames[0]["provider"] == "Provider One"  # p1 started streaming, so p2 is never tried
    assert frames[-1]["choices"][0]["finish_reason"] == "error" and "error" in frames[-1]


def test_unsuitable_endpoints_are_skipped_before_any_call(rgateway: Gateway) -> None:
    before = len(rgateway.upstream.state.requests)
    r = chat(rgateway, "route/small", messages=[{"role": "user", "content": "word " * 200}],
             plugins=[{"id": "context-compression", "enabled": False}])  # else middle-out makes it fit
    assert r.status_code == 404 and r.json()["error"]["metadata"]["excluded"][0]["excluded_by"] == "context_length"
    r = chat(rgateway, "route/short-output", max_tokens=50)
    assert r.status_code == 404 and "max_tokens" in r.json()["error"]["message"]
    assert len(rgateway.upstream.state.requests) == before


def test_rate_limited_endpoint_cools_down_for_retry_after(rgateway: Gateway) -> None:
    r = chat(rgateway, "route/limited", provider={"sort": "price"})
    assert served_by(r) == "Provider Two"  # p1 answered 429 and the request moved on
    before = len(rgateway.upstream.state.requests)
    assert served_by(chat(rgateway, "route/limited", provider={"sort": "price"})) == "Provider Two"
    assert len(rgateway.upstream.state.requests) == before + 1  # p1 is skipped during its Retry-After (7 s)
    r = chat(rgateway, "route/limited", provider={"only": ["p1"]})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 7


def test_circuit_breaker_opens_and_endpoint_shows_it(rgateway: Gateway) -> None:
    for _ in range(5):
        assert served_by(chat(rgateway, "route/breaker", provider={"sort": "price"})) == "Provider Two"
    before = len(rgateway.upstream.state.requests)
    assert served_by(chat(rgateway, "route/breaker", provider={"sort": "price"})) == "Provider Two"
    assert len(rgateway.upstream.state.requests) == before + 1  # the open circuit is not called
    eps = httpx.get(f"{rgateway.api}/models/route/breaker/endpoints").json()["data"]["endpoints"]
    by = {e["tag"]: e for e in eps}
    assert by["p1"]["status"] == -3 and by["p1"]["uptime_last_30m"] == 0.0
    assert by["p2"]["status"] == 0 and by["p2"]["uptime_last_30m"] == 100.0
    assert by["p2"]["latency_last_30m"]["p50"] > 0 and by["p2"]["throughput_last_30m"]["p50"] > 0


def test_default_load_balancing_spreads_by_inverse_square_price(rgateway: Gateway) -> None:
    # Prices $1, $2, $3 per M: expected first-choice shares 73.5 %, 18.4 %, 8.2 % (the exact
    # statistics are checked in tests/unit/test_routing_choice.py; this checks the live path uses them).
    seen = [served_by(chat(rgateway, "route/multi")) for _ in range(60)]
    counts = {name: seen.count(name) for name in ("Provider One", "Provider Two", "Provider Three")}
    assert counts["Provider One"] > 30 and counts["Provider One"] > counts["Provider Two"]
    assert counts["Provider Two"] + counts["Provider Three"] > 0  # the dearer ones are not starved
    # A free endpoint beside a paid one carries the traffic.
    assert {served_by(chat(rgateway, "route/free-mix")) for _ in range(10)} == {"Provider One"}
