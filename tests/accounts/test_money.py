"""Budgets that cannot be overrun (issue 12, "Money"), attacked over real sockets:

- a prompt is held at its bound over everything sent upstream (tool definitions, tool-call
  arguments, tool results), and refused with 402 in every dialect's envelope when even the
  prompt cannot be covered;
- no charge exceeds what the request's own `max_tokens` and its hold allow: a flooding stream,
  a lying upstream;
- a request has an overall deadline (`request_timeout`), streams included;
- a client that leaves before the first byte cancels the upstream call and releases its hold,
  on every inference route.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import ADMIN, Acct, wait_until
from tests.conftest import Upstream, gateway_config
from tests.fakes.openai_embeddings_upstream import EmbeddingsState
from tests.fakes.openai_embeddings_upstream import create_app as create_embeddings
from tests.fakes.server import serve
from turnout.app import create_app
from turnout.settings import load_settings

BIG = 400_000  # bytes of tool-call arguments: ~$0.40 of prompt at $1 per million tokens


@pytest.fixture(scope="module")
def embed_upstream() -> Iterator[tuple[str, EmbeddingsState]]:
    state = EmbeddingsState()
    with serve(create_embeddings(state)) as url:
        yield url, state


@pytest.fixture(scope="module")
def money(upstream: Upstream, embed_upstream: tuple[str, EmbeddingsState],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acct]:
    """A gateway whose read timeout (30 s) is far beyond what these tests wait."""
    config = gateway_config(upstream.url)
    providers = {**config["providers"], "fake-embed": {  # type: ignore[dict-item]
        "name": "Fake Embed", "dialect": "openai", "base_url": f"{embed_upstream[0]}/v1", "api_key": "sk-embed"}}
    wide = {"context_length": 1_000_000, "supported_parameters": ["max_tokens", "tools", "tool_choice"],
            "endpoints": [{"provider": "fake", "model": "echo", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}]}
    models = {**config["models"], "test/wide": wide, "test/embed-hang": {  # type: ignore[dict-item]
        "kind": "embedding", "context_length": 512, "output_modalities": ["embeddings"],
        "endpoints": [{"provider": "fake-embed", "model": "hang", "pricing": {"prompt": "0.0000001", "completion": "0"}}]}}
    settings = load_settings(None, env={}, data_dir=tmp_path_factory.mktemp("money"), keepalive_interval=0.5,
                             read_timeout=30.0, providers=providers, models=models, admin_key=ADMIN)
    with serve(create_app(settings)) as url:
        yield Acct(url, settings)


def new_key(acct: Acct, name: str, limit: str) -> tuple[str, str]:
    created = acct.call("POST", "/keys", json={"name": name, "limit": limit}).json()
    return created["key"], created["data"]["hash"]


def key_data(acct: Acct, key: str) -> dict[str, Any]:
    data: dict[str, Any] = acct.call("GET", "/key", key).json()["data"]
    return data


def big_arguments() -> str:
    return json.dumps({"rows": "a b c d " * (BIG // 8)})


# -- 1. the prompt is held at its bound over everything sent; 402 when even it cannot be covered --


def test_tool_call_arguments_are_held_and_a_prompt_too_big_for_the_limit_is_refused(money: Acct,
                                                                                     upstream: Upstream) -> None:
    state = upstream.state
    key, _ = new_key(money, "tiny-chat", "0.001")
    before = len(state.requests)
    messages = [
        {"role": "user", "content": "load the table"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "load", "arguments": big_arguments()}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]
    r = money.chat(key, model="test/echo", messages=messages, max_tokens=10)
    assert r.status_code == 404 and "context length 8192" in r.json()["error"]["message"]  # counted for context too
    r = money.chat(key, model="test/wide", messages=messages, max_tokens=10)
    assert r.status_code == 402, r.text
    err = r.json()["error"]
    assert err["code"] == 402 and "prompt alone" in err["message"]
    assert err["metadata"]["prompt_tokens"] >= BIG  # 1 token per byte: the bound
    assert len(state.requests) == before  # nothing went upstream
    data = key_data(money, key)
    assert data["usage"] == 0 and data["reserved"] == 0
    # the same prompt with the tools' definitions instead: held too
    tools = [{"type": "function", "function": {"name": "load", "description": "x " * (BIG // 2),
                                               "parameters": {"type": "object"}}}]
    r = money.chat(key, model="test/wide", tools=tools, max_tokens=10)
    assert r.status_code == 402 and "prompt alone" in r.json()["error"]["message"]
    # a small prompt on the same key still goes through
    assert money.chat(key, model="test/wide", max_tokens=10).status_code == 200


def test_an_account_balance_holds_the_whole_prompt_too(start_gateway: Callable[..., Acct], upstream: Upstream) -> None:
    acct = start_gateway(require_credits=True)
    key = acct.call("POST", "/keys", json={"name": "team-key", "account": "team"}).json()["key"]
    acct.call("POST", "/credits", json={"amount": "0.001", "kind": "grant", "account": "team"})
    # 20 kB of tool definitions: ~5,000 tokens likely (fits the 8,192 context), up to 20,000 billed
    tools = [{"type": "function", "function": {"name": "load", "description": "x " * 10_000, "parameters": {}}}]
    before = len(upstream.state.requests)
    r = acct.chat(key, model="test/echo", tools=tools, max_tokens=10)
    assert r.status_code == 402, r.text
    assert r.json()["error"]["metadata"]["limited_by"] == "account credits"
    assert len(upstream.state.requests) == before
    assert acct.chat(key, model="test/echo", max_tokens=10).status_code == 200  # a plain prompt fits


def test_anthropic_tool_use_input_is_refused_in_anthropics_envelope(money: Acct) -> None:
    key, _ = new_key(money, "tiny-messages", "0.001")
    body = {"model": "test/wide", "max_tokens": 10, "messages": [
        {"role": "user", "content": "load the table"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "load",
                                           "input": {"rows": "a b c d " * (BIG // 8)}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ]}
    r = httpx.post(f"{money.api}/messages", json=body, headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                   timeout=30)
    assert r.status_code == 402, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "billing_error"
    assert "prompt alone" in r.json()["error"]["message"]


def test_responses_function_call_arguments_are_refused_in_the_responses_envelope(money: Acct) -> None:
    key, _ = new_key(money, "tiny-responses", "0.001")
    body = {"model": "test/wide", "max_output_tokens": 16, "input": [
        {"role": "user", "content": "load the table"},
        {"type": "function_call", "call_id": "call_1", "name": "load", "arguments": big_arguments()},
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
    ]}
    r = money.call("POST", "/responses", key, json=body)
    assert r.status_code == 402, r.text
    err = r.json()["error"]
    assert err["type"] == "insufficient_quota" and "prompt alone" in err["message"]


# -- 2. no charge above max_tokens or the hold; an overall deadline ---------------------------


def record_of(acct: Acct, key: str, gen_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def check() -> bool:
        r = acct.call("GET", f"/generation?id={gen_id}", key)
        if r.status_code == 200:
            found.update(r.json()["data"])
        return bool(found)
    wait_until(check)
    return found


def test_a_flooding_stream_is_charged_no_more_than_max_tokens(money: Acct) -> None:
    key, _ = new_key(money, "flooded", "1")
    with httpx.stream("POST", f"{money.api}/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": "test/flood", "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "say a little"}]}) as r:
        assert r.status_code == 200
        gen_id = r.headers["x-generation-id"]
        streamed = sum(len(chunk) for chunk in r.iter_bytes())
    assert streamed > 1_000_000  # the upstream sent megabytes, and the client saw them
    rec = record_of(money, key, gen_id)
    assert rec["status"] == "error" and rec["usage_estimated"] is True
    assert rec["tokens_completion"] == 50  # capped at max_tokens, not ~500,000 estimated tokens
    most = Decimal(rec["tokens_prompt"]) * Decimal("0.000001") + 50 * Decimal("0.000002")
    assert Decimal(str(rec["total_cost"])) <= most
    assert Decimal(str(key_data(money, key)["usage"])) <= most


def test_a_lying_upstream_is_charged_no_more_than_the_hold(money: Acct) -> None:
    key, _ = new_key(money, "overbilled", "1")
    r = money.chat(key, model="test/overbill", max_tokens=20)
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == 10**9  # reported as it was
    cost = Decimal(str(r.json()["usage"]["cost"]))
    assert Decimal(0) < cost < Decimal("0.01")  # not $3,000: at most the worst case held for it
    data = key_data(money, key)
    assert Decimal(str(data["usage"])) == cost and data["reserved"] == 0


def test_a_stream_past_the_request_deadline_ends_in_band_and_is_recorded(start_gateway: Callable[..., Acct],
                                                                          upstream: Upstream) -> None:
    acct = start_gateway(request_timeout=1.5)  # read_timeout is 5 s: the drip is never idle that long
    key, _ = new_key(acct, "deadline", "1")
    before = upstream.state.cancelled.count("drip")
    started = time.monotonic()
    with httpx.stream("POST", f"{acct.api}/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": "test/drip", "stream": True, "messages": [{"role": "user", "content": "go"}]}) as r:
        assert r.status_code == 200
        gen_id = r.headers["x-generation-id"]
        frames = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert time.monotonic() - started < 4
    last = json.loads(frames[-1])
    assert last["error"]["code"] == 408 and "request_timeout" in last["error"]["message"]
    assert last["choices"][0]["finish_reason"] == "error"
    assert json.loads(frames[-2])["usage"]["completion_tokens"] > 0  # the usage it had
    rec = record_of(acct, key, gen_id)
    assert rec["status"] == "error" and rec["tokens_completion"] > 0
    # zero-completion insurance: an answer that ends in error is not charged (docs/plugins.md)
    assert Decimal(str(rec["total_cost"])) == 0 and any(s["type"] == "insurance" for s in rec["pipeline"])
    wait_until(lambda: upstream.state.cancelled.count("drip") > before, timeout=3)  # the upstream was dropped
    assert key_data(acct, key)["reserved"] == 0


def test_a_request_waiting_past_its_deadline_gets_a_408(start_gateway: Callable[..., Acct]) -> None:
    acct = start_gateway(request_timeout=1.0)  # the read timeout (5 s) would come later
    key, _ = new_key(acct, "deadline-wait", "1")
    started = time.monotonic()
    r = acct.chat(key, model="test/hang", max_tokens=10)
    assert 0.9 < time.monotonic() - started < 3
    assert r.status_code == 408 and "request_timeout" in r.json()["error"]["message"]
    rec = record_of(acct, key, r.headers["x-generation-id"])
    assert rec["status"] == "error" and rec["error_code"] == 408
    assert key_data(acct, key)["reserved"] == 0


# -- 3. a client leaving before the first byte -------------------------------------------------


ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/chat/completions", {"model": "test/hang", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    "chat-stream": ("/chat/completions", {"model": "test/hang", "max_tokens": 50, "stream": True,
                                          "messages": [{"role": "user", "content": "hi"}]}),
    "messages": ("/messages", {"model": "test/hang", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    "messages-stream": ("/messages", {"model": "test/hang", "max_tokens": 50, "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/responses", {"model": "test/hang", "max_output_tokens": 50, "input": "hi"}),
    "completions": ("/completions", {"model": "test/hang", "max_tokens": 50, "prompt": "hi"}),
    "embeddings": ("/embeddings", {"model": "test/embed-hang", "input": "hi"}),
}


def generations(acct: Acct, key_hash: str) -> list[tuple[str, int | None]]:
    db = sqlite3.connect(acct.settings.sqlite_path)
    try:
        return db.execute("SELECT status, error_code FROM generations WHERE key_hash = ?", (key_hash,)).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_client_leaving_before_the_first_byte_cancels_the_upstream_and_the_hold(
        money: Acct, upstream: Upstream, embed_upstream: tuple[str, EmbeddingsState], route: str) -> None:
    path, body = ROUTES[route]
    state = embed_upstream[1] if route == "embeddings" else upstream.state
    key, key_hash = new_key(money, f"leaver-{route}", "1")
    before = state.cancelled.count("hang")
    payload = json.dumps(body).encode()
    host, port = money.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"POST /api/v1{path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {key}\r\nx-api-key: {key}\r\nanthropic-version: 2023-06-01\r\n"
                     f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        time.sleep(0.5)
        assert Decimal(str(key_data(money, key)["reserved"])) > 0  # held while the upstream is waited on
        sock.settimeout(0.05)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # no byte of an answer yet
    left = time.monotonic()
    wait_until(lambda: state.cancelled.count("hang") > before, timeout=2)  # the upstream saw its connection close
    wait_until(lambda: key_data(money, key)["reserved"] == 0, timeout=2)
    wait_until(lambda: generations(money, key_hash) == [("cancelled", 499)], timeout=2)
    assert time.monotonic() - left < 3
    assert key_data(money, key)["usage"] == 0
