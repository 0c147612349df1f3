"""Storage cannot be filled for free: every recorded string is bounded, the referer is kept as its
origin, and refused requests (an unknown model, an invalid body) count against the key's rate limit."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from tests.accounts.conftest import Acct, wait_until
from turnout.core.money.bounds import MAX_ID, MAX_MESSAGE, MAX_TITLE, origin


def new_key(acct: Acct, name: str) -> str:
    key: str = acct.call("POST", "/keys", json={"name": name}).json()["key"]
    return key


def recorded(acct: Acct, gen_id: str):  # type: ignore[no-untyped-def]
    found = []

    def landed() -> bool:
        with acct.store() as s:
            rec = s.get_generation(gen_id)
        found[:] = [rec] if rec is not None else []
        return bool(found)

    wait_until(landed)
    return found[0]


def test_an_unknown_model_of_100_kb_is_recorded_truncated(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway()
    key = new_key(acct, "filler")
    name = "x/" + "y" * 100_000
    # headers of 20 KB each: together under the front door's 64 KB for all headers (a 431 past it)
    r = acct.chat(key, model=name, headers={"x-title": "T" * 20_000,
                                            "http-referer": "https://app.example/" + "p" * 20_000 + "?secret=1"})
    assert r.status_code == 400, r.text
    assert len(r.content) < 4096  # the answer does not echo it whole either
    rec = recorded(acct, r.headers["x-generation-id"])
    assert rec.model.startswith("x/yyy") and len(rec.model) <= MAX_ID
    assert rec.error_message is not None and len(rec.error_message) <= MAX_MESSAGE
    assert rec.app_title is not None and len(rec.app_title) <= MAX_TITLE
    assert rec.app_referer == "https://app.example"


def test_the_referer_is_stored_as_its_origin(acct: Acct) -> None:
    key = new_key(acct, "origin-only")
    r = acct.chat(key, headers={"http-referer": "https://user:pw@App.Example:8443/private/path?token=abc#frag",
                                "x-title": b"My\tApp\x85x"})
    assert r.status_code == 200, r.text
    rec = recorded(acct, r.headers["x-generation-id"])
    assert rec.app_referer == "https://app.example:8443"
    assert rec.app_title == "My App x"


def test_origin() -> None:
    assert origin("http://[::1]:8080/x?y") == "http://[::1]:8080"
    assert origin("javascript:alert(1)") is None
    assert origin("https://a.example:99999/") is None
    assert origin("not a url") is None
    assert origin("https://a.example") == "https://a.example"


def test_refused_requests_count_against_the_rate_limit(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway()
    key = acct.call("POST", "/keys", json={"name": "limited", "rate_limit_rpm": 3}).json()["key"]
    unknown = acct.chat(key, model="no/such-model")
    assert unknown.status_code == 400
    invalid = acct.call("POST", "/chat/completions", key, content=json.dumps({"model": "test/echo", "messages": []}),
                        headers={"content-type": "application/json"})
    assert invalid.status_code == 400
    embed = acct.call("POST", "/embeddings", key, json={"model": "no/such-model", "input": "x"})
    assert embed.status_code == 400
    # three requests counted: the fourth, valid or not, is over the limit
    assert acct.chat(key).status_code == 429
    assert acct.chat(key, model="no/such-model").status_code == 429
    again = httpx.post(f"{acct.api}/messages", json={"model": "test/echo", "messages": []},
                       headers={"x-api-key": key}, timeout=10)
    assert again.status_code == 429, again.text


def test_one_key_cannot_evict_another_keys_stored_responses(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway(responses_per_key=2, responses_max=5)
    alice, mallory = new_key(acct, "alice"), new_key(acct, "mallory")

    def respond(key: str, **body: object) -> httpx.Response:
        return acct.call("POST", "/responses", key, json={"model": "test/echo", "input": "hello", **body})

    first = respond(alice)
    assert first.status_code == 200, first.text
    for _ in range(8):  # more than the whole store holds
        assert respond(mallory).status_code == 200
    again = respond(alice, previous_response_id=first.json()["id"])
    assert again.status_code == 200, again.text


def test_a_stored_response_counts_what_it_echoes(start_gateway: Callable[..., Acct]) -> None:
    """The stored response object echoes the request's metadata, tools and instructions: they count."""
    acct = start_gateway(responses_bytes_per_key=2_000)
    key = new_key(acct, "echoer")
    metadata = {f"k{i}": "x" * 500 for i in range(5)}  # within OpenAI's limits, 2,500 characters
    big = acct.call("POST", "/responses", key, json={"model": "test/echo", "input": "hi", "metadata": metadata})
    assert big.status_code == 200, big.text
    follow = acct.call("POST", "/responses", key, json={"model": "test/echo", "input": "again",
                                                       "previous_response_id": big.json()["id"]})
    assert follow.status_code == 404  # larger than the key's whole quota: not kept
    small = acct.call("POST", "/responses", key, json={"model": "test/echo", "input": "hi", "instructions": "short"})
    stored = acct.call("GET", f"/responses/{small.json()['id']}", key)
    assert stored.status_code == 200 and stored.json()["id"] == small.json()["id"]
