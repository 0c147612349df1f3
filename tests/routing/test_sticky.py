"""Prompt-cache sticky routing over real sockets: a fake upstream that models a provider-side
prompt cache per endpoint, behind two equally priced endpoints of one model."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, Upstream, create_key
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.core.catalog.catalog import Endpoint, Provider
from turnout.core.catalog.pricing import Pricing
from turnout.core.routing.sticky import IDLE_SECONDS, Conversation, StickyRoutes, conversation_of
from turnout.model.chat import ChatRequest, Message
from turnout.model.result import Usage
from turnout.settings import load_settings

PROMPT, COMPLETION, READ, WRITE = Decimal("0.000001"), Decimal("0.000002"), Decimal("0.0000001"), Decimal("0.00000125")
PRICES = {"prompt": str(PROMPT), "completion": str(COMPLETION), "input_cache_read": str(READ),
          "input_cache_write": str(WRITE)}
SYSTEM = {"role": "system", "content": "You are a careful assistant. " * 40}
ROUNDS = 8  # follow-ups: without stickiness, all on one of two endpoints has odds 2**-8


@pytest.fixture(scope="module")
def sgateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = f"{upstream.url}/v1"
    providers = {s: {"name": f"Cache {s}", "dialect": "openai", "base_url": base, "api_key": "k",
                     "options": {"quirks": "openrouter"}} for s in ("c1", "c2")}

    def model(tag: str, prices: dict[str, str]) -> dict[str, Any]:
        return {"context_length": 8192, "endpoints": [
            {"provider": s, "model": f"prompt-cache@{tag}-{s}", "pricing": prices} for s in ("c1", "c2")]}

    models = {"sticky/chat": model("a", PRICES),
              "sticky/nocache": model("b", {"prompt": str(PROMPT), "completion": str(COMPLETION)})}
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("sticky"), catalog_dataset=False,
                             providers=providers, models=models)
    with serve(create_app(settings)) as url:
        yield Gateway(url, create_key(settings, "sticky"), settings, upstream)


def chat(gw: Gateway, messages: list[dict[str, Any]], model: str = "sticky/chat", headers: dict[str, str] | None = None,
         **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{gw.api}/chat/completions", json={"model": model, "messages": messages, **body},
                   headers={"authorization": f"Bearer {gw.key}", **(headers or {})}, timeout=20)
    assert r.status_code == 200, r.text
    return dict(r.json())


def record(gw: Gateway, gen_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.api}/generation", params={"id": gen_id}, headers={"authorization": f"Bearer {gw.key}"})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def cost_of(usage: dict[str, Any]) -> Decimal:
    details = usage["prompt_tokens_details"]
    cached, writes = details.get("cached_tokens", 0), details.get("cache_write_tokens", 0)
    fresh = usage["prompt_tokens"] - cached - writes
    return fresh * PROMPT + cached * READ + writes * WRITE + usage["completion_tokens"] * COMPLETION


def test_the_second_turn_goes_where_the_cache_is_and_costs_less(sgateway: Gateway) -> None:
    first_user = {"role": "user", "content": "What is a turnout?"}
    first = chat(sgateway, [SYSTEM, first_user])
    writes = first["usage"]["prompt_tokens_details"]["cache_write_tokens"]
    assert writes > 0 and first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert Decimal(str(first["usage"]["cost"])) == cost_of(first["usage"])
    history = [SYSTEM, first_user, {"role": "assistant", "content": first["choices"][0]["message"]["content"]}]
    for i in range(ROUNDS):
        turn = chat(sgateway, [*history, {"role": "user", "content": f"And question {i}?"}])
        assert turn["provider"] == first["provider"]
        details = turn["usage"]["prompt_tokens_details"]
        assert details["cached_tokens"] == writes and details.get("cache_write_tokens", 0) == 0
        rec = record(sgateway, turn["id"])
        assert Decimal(str(rec["total_cost"])) == cost_of(turn["usage"])
        full_price = turn["usage"]["prompt_tokens"] * PROMPT + turn["usage"]["completion_tokens"] * COMPLETION
        assert cost_of(turn["usage"]) < full_price
        assert rec["attempts"][0]["reason"].startswith("sticky: this conversation's prompt cache is on")


def test_provider_order_wins_over_stickiness(sgateway: Gateway) -> None:
    system = {"role": "system", "content": "A different system prompt for the order test. " * 20}
    user = {"role": "user", "content": "hi"}
    first = chat(sgateway, [system, user])
    other = "c2" if first["provider"] == "Cache c1" else "c1"
    for _ in range(3):
        pinned = chat(sgateway, [system, user, {"role": "user", "content": "more"}], provider={"order": [other]})
        assert pinned["provider"] == f"Cache {other}"
        assert "sticky" not in record(sgateway, pinned["id"])["attempts"][0]["reason"]


def test_a_session_id_sticks_from_the_first_success_even_without_caching(sgateway: Gateway) -> None:
    # no cache prices: caching never pays, so no stickiness at all (both endpoints get used)
    seen = {chat(sgateway, [{"role": "user", "content": f"q{i}"}], model="sticky/nocache",
                 session_id="s-none")["provider"] for i in range(16)}
    assert seen == {"Cache c1", "Cache c2"}
    # a session id on the header: the first success on the cache-priced model already sticks (no system prompt, no cache report)
    first = chat(sgateway, [{"role": "user", "content": "q"}], headers={"x-session-id": "sess-42"})
    assert first["usage"]["prompt_tokens_details"].get("cache_write_tokens", 0) == 0
    for i in range(ROUNDS):
        again = chat(sgateway, [{"role": "user", "content": f"other {i}"}], headers={"x-session-id": "sess-42"})
        assert again["provider"] == first["provider"]


def test_a_bad_session_id_is_a_400(sgateway: Gateway) -> None:
    r = httpx.post(f"{sgateway.api}/chat/completions", json={"model": "sticky/chat", "messages": [{"role": "user", "content": "x"}],
                   "session_id": "x" * 257}, headers={"authorization": f"Bearer {sgateway.key}"}, timeout=20)
    assert r.status_code == 400 and r.json()["error"]["metadata"]["param"] == "session_id"


def _endpoint(slug: str) -> Endpoint:
    return Endpoint("m/x", Provider(slug, slug, "openai", "http://127.0.0.1:1"), "up",
                    Pricing(prompt=PROMPT, completion=COMPLETION, input_cache_read=READ), 8192, None, frozenset(), ("text",))


def test_entries_expire_when_idle_and_are_bounded() -> None:
    now = [0.0]
    routes = StickyRoutes(2, clock=lambda: now[0])
    e = _endpoint("p")
    conv = Conversation("h:1", named=False)
    routes.observe("k", e, conv, Usage(prompt_tokens=10))  # unnamed, nothing cached: not sticky yet
    assert routes.get("k", "m/x", "h:1") is None
    routes.observe("k", e, conv, Usage(prompt_tokens=10, cached_tokens=5))
    assert routes.get("k", "m/x", "h:1") == e.key
    now[0] += IDLE_SECONDS + 1
    assert routes.get("k", "m/x", "h:1") is None
    for i in range(5):
        routes.observe("k", e, Conversation(f"s:{i}", named=True), Usage())
    assert len(routes) == 2 and routes.get("k", "m/x", "s:0") is None and routes.get("k", "m/x", "s:4") == e.key


def test_the_conversation_key_precedence() -> None:
    msgs = [Message("system", "sys"), Message("user", "u1"), Message("assistant", "a"), Message("user", "u2")]
    body = ChatRequest("m", msgs, session_id="body")
    assert conversation_of(body, "header") == Conversation("s:body", True)
    plain = ChatRequest("m", msgs, extra={"prompt_cache_key": "pck"})
    assert conversation_of(plain, "header") == Conversation("s:header", True)
    assert conversation_of(plain, "h" * 300) == Conversation("p:pck", False)
    later = ChatRequest("m", [*msgs, Message("user", "u3")])
    assert conversation_of(later, None) == conversation_of(ChatRequest("m", msgs[:2]), None)
    assert conversation_of(ChatRequest("m", [Message("system", "other"), msgs[1]]), None) != conversation_of(later, None)
