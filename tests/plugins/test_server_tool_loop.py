"""The web search server tool, model-driven: the model calls `web_search`, turnout searches and asks
again, up to `max_uses`; every search charged, every call's tokens summed, the hold covering them."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from tests.plugins.conftest import PRICES, Plug

TOOL = {"type": "openrouter:web_search", "parameters": {"engine": "exa", "max_results": 2}}
ASK = [{"role": "user", "content": "what is turnout?"}]


def searches_by(plug: Plug, before: int) -> list[dict[str, Any]]:
    return [r for r in plug.fakes.engines.requests[before:] if r["engine"] == "exa"]


def test_the_model_searches_and_answers_with_citations(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/searcher", "messages": ASK, "tools": [TOOL]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["body"]["query"] for s in searches_by(plug, before)] == ["turnout gateway"]  # the model's query
    message = body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "stop" and "tool_calls" not in message
    assert message["content"].startswith("According to [source](https://www.example.com/turnout)")
    cited = message["annotations"][0]["url_citation"]
    assert cited["url"] == "https://www.example.com/turnout" and cited["start_index"] == 13
    usage = body["usage"]
    assert usage["server_tool_use_details"] == {"web_search_requests": 1}
    assert usage["completion_tokens"] == 14 and usage["prompt_tokens"] == 24  # two model calls, summed
    tokens = usage["prompt_tokens"] * Decimal("0.000001") + usage["completion_tokens"] * Decimal("0.000002")
    assert Decimal(str(usage["cost"])) == tokens + Decimal(PRICES["exa"])
    rec = plug.record(body["id"])
    assert [a["reason"] for a in rec["attempts"]][-1] == "web search tool loop"
    step = next(s for s in rec["pipeline"] if s["type"] == "server_tools" and "searches" in s["data"])
    assert step["data"]["searches"] == 1 and step["data"]["engine"] == "exa"


def test_several_searches_are_each_charged(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/searcher-2", "messages": ASK, "tools": [TOOL]})
    assert r.status_code == 200, r.text
    assert len(searches_by(plug, before)) == 2
    usage = r.json()["usage"]
    assert usage["server_tool_use_details"] == {"web_search_requests": 2}
    tokens = usage["prompt_tokens"] * Decimal("0.000001") + usage["completion_tokens"] * Decimal("0.000002")
    assert Decimal(str(usage["cost"])) == tokens + 2 * Decimal(PRICES["exa"])


def test_max_uses_bounds_the_loop_and_the_model_must_answer(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    tool = {**TOOL, "parameters": {**TOOL["parameters"], "max_uses": 2}}  # type: ignore[dict-item]
    r = plug.post("/chat/completions", {"model": "test/searcher-5", "messages": ASK, "tools": [tool]})
    assert r.status_code == 200, r.text
    assert len(searches_by(plug, before)) == 2
    # searcher-5 would search five times: it answered because the tool was withdrawn after two
    message = r.json()["choices"][0]["message"]
    assert message["content"].startswith("According to") and "tool_calls" not in message


def test_the_callers_own_tools_come_back_to_the_caller(plug: Plug) -> None:
    own = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/searcher", "messages": ASK, "tools": [TOOL, own]})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_time"]
    assert choice["finish_reason"] == "tool_calls" and len(searches_by(plug, before)) == 0


def test_anthropic_and_responses_tools_drive_the_loop_too(plug: Plug) -> None:
    r = plug.post("/messages", {"model": "test/searcher", "max_tokens": 100, "messages": ASK,
                                "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]})
    assert r.status_code == 200, r.text
    blocks = r.json()["content"]
    assert [b["type"] for b in blocks] == ["text"]
    assert blocks[0]["text"].startswith("According to [source](https://www.example.com/turnout)")
    assert blocks[0]["citations"][0]["url"] == "https://www.example.com/turnout"
    assert r.json()["usage"]["server_tool_use"] == {"web_search_requests": 1}
    r = plug.post("/responses", {"model": "test/searcher", "input": "what is turnout?", "tools": [{"type": "web_search"}]})
    assert r.status_code == 200, r.text
    item = next(i for i in r.json()["output"] if i["type"] == "message")
    assert item["content"][0]["annotations"][0]["type"] == "url_citation"
    assert all(i["type"] != "function_call" for i in r.json()["output"])


def test_a_stream_gets_one_search_before_the_answer(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r, _events = plug.stream("/chat/completions", {"model": "test/echo", "messages": ASK, "tools": [TOOL]})
    assert r.status_code == 200 and len(searches_by(plug, before)) == 1
    assert "tools" not in plug.fakes.upstream.state.requests[-1]["body"]


def test_the_hold_covers_every_call_of_the_loop(plug: Plug) -> None:
    """max_uses 3: four model calls and three searches are held, so a key that could afford one call
    and one search is refused before anything runs."""
    from tests.conftest import create_key

    key = create_key(plug.settings, "loop-hold", Decimal("0.03"))
    body = {"model": "test/searcher", "max_tokens": 100, "messages": ASK}
    deadline = time.monotonic() + 5
    while True:
        r = httpx.post(f"{plug.api}/chat/completions", json={**body, "tools": [{**TOOL, "parameters": {"engine": "exa", "max_results": 1, "max_uses": 3}}]},
                       headers={"authorization": f"Bearer {key}"}, timeout=30)
        if r.status_code != 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 402, r.text
    r = httpx.post(f"{plug.api}/chat/completions", json={**body, "tools": [{**TOOL, "parameters": {"engine": "exa", "max_results": 1, "max_uses": 1}}]},
                   headers={"authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_model_that_never_stops_calling_is_bounded(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    tool = {**TOOL, "parameters": {**TOOL["parameters"], "max_uses": 2}}  # type: ignore[dict-item]
    r = plug.post("/chat/completions", {"model": "test/searcher-empty", "messages": ASK, "tools": [tool]})
    assert r.status_code == 200, r.text
    assert len(searches_by(plug, before)) == 0  # empty queries are not searched
    rec = plug.record(r.json()["id"])
    assert sum(a["reason"] == "web search tool loop" for a in rec["attempts"]) == 2  # max_uses more calls, no more
    assert "tool_calls" not in r.json()["choices"][0]["message"]  # its web_search calls are not the caller's
