"""The web plugin, `:online` and the web search server tools, through the gateway over real sockets:
engines on loopback in their real formats, citations in each inbound dialect's own form, the
search's price in the cost, the usage and the generation record."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.plugins.conftest import PRICES, Plug

USER = "what is turnout"


def last_engine_request(plug: Plug, engine: str) -> dict[str, Any]:
    found = [r for r in plug.fakes.engines.requests if r["engine"] == engine]
    assert found, f"{engine} was not asked"
    return found[-1]


def token_cost(usage: dict[str, Any]) -> Decimal:
    return usage["prompt_tokens"] * Decimal("0.000001") + usage["completion_tokens"] * Decimal("0.000002")


def upstream_user_text(plug: Plug) -> str:
    body = plug.fakes.upstream.state.requests[-1]["body"]
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def check_spans(text: str, annotations: list[dict[str, Any]]) -> None:
    linked = [a for a in annotations if a["end_index"] > 0]
    assert linked, annotations
    for a in linked:
        span = text[a["start_index"]:a["end_index"]]
        assert span.startswith("[") and span.endswith(f"]({a['url']})"), span


def test_openai_plugin_searches_injects_cites_and_charges(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web"}],
                                        "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200, r.text
    assert len(plug.fakes.engines.requests) == before + 1
    assert last_engine_request(plug, "searxng")["query"]["q"] == USER
    sent = upstream_user_text(plug)
    assert sent.startswith(USER) and "A web search was conducted on" in sent and "IMPORTANT: Cite them" in sent
    body = r.json()
    message = body["choices"][0]["message"]
    annotations = [a["url_citation"] for a in message["annotations"]]
    assert {a["url"] for a in annotations} >= {"https://www.example.com/turnout", "https://docs.example.org/plugins"}
    assert all(a["type"] == "url_citation" for a in message["annotations"])
    check_spans(message["content"], annotations)
    usage = body["usage"]
    assert usage["server_tool_use_details"] == {"web_search_requests": 1}
    assert Decimal(str(usage["cost"])) == token_cost(usage) + Decimal(PRICES["searxng"])
    rec = plug.record(body["id"])
    assert Decimal(str(rec["total_cost"])) == Decimal(str(usage["cost"]))
    assert {"type": "plugin", "name": "web", "data": {"engine": "searxng", "results": 5, "price": "0.004"}} in rec["pipeline"]


def test_openai_stream_carries_citations_before_the_finish(plug: Plug) -> None:
    r, events = plug.stream("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web", "max_results": 2}],
                                                  "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200
    chunks = [d for _, d in events if d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    with_annotations = [c for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("annotations")]
    assert len(with_annotations) == 1
    annotations = [a["url_citation"] for a in with_annotations[0]["choices"][0]["delta"]["annotations"]]
    assert len(annotations) == 2
    check_spans(text, annotations)
    finish_at = next(i for i, c in enumerate(chunks) if c.get("choices") and c["choices"][0]["finish_reason"])
    assert chunks.index(with_annotations[0]) < finish_at
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    assert usage["server_tool_use_details"] == {"web_search_requests": 1}
    assert Decimal(str(usage["cost"])) == token_cost(usage) + Decimal(PRICES["searxng"])


def test_online_variant_is_the_web_plugin(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/echo:online", "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200, r.text
    assert len(plug.fakes.engines.requests) == before + 1
    assert r.json()["choices"][0]["message"]["annotations"]


@pytest.mark.parametrize("engine", ["searxng", "exa", "tavily", "brave"])
def test_each_engine_in_its_own_format(plug: Plug, engine: str) -> None:
    r = plug.post("/chat/completions", {
        "model": "test/echo", "messages": [{"role": "user", "content": USER}],
        "plugins": [{"id": "web", "engine": engine, "max_results": 3, "exclude_domains": ["docs.example.org"]}]})
    assert r.status_code == 200, r.text
    seen = last_engine_request(plug, engine)
    if engine == "exa":
        assert seen["headers"]["x-api-key"] == "engine-key"
        assert seen["body"]["numResults"] == 8 and seen["body"]["excludeDomains"] == ["docs.example.org"]
    elif engine == "tavily":
        assert seen["headers"]["authorization"] == "Bearer engine-key"
        assert seen["body"]["max_results"] == 8 and seen["body"]["exclude_domains"] == ["docs.example.org"]
    elif engine == "brave":
        assert seen["headers"]["x-subscription-token"] == "engine-key" and "-site:docs.example.org" in seen["query"]["q"]
    else:
        assert seen["query"]["format"] == "json" and "-site:docs.example.org" in seen["query"]["q"]
    urls = [a["url_citation"]["url"] for a in r.json()["choices"][0]["message"]["annotations"]]
    assert len(urls) == 3 and "https://docs.example.org/plugins" not in urls  # filtered whatever the engine did
    usage = r.json()["usage"]
    assert Decimal(str(usage["cost"])) == token_cost(usage) + Decimal(PRICES[engine])


def test_include_domains_keeps_only_those_sites(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": USER}],
                                        "plugins": [{"id": "web", "engine": "tavily", "include_domains": ["example.com"]}]})
    assert r.status_code == 200, r.text
    urls = {a["url_citation"]["url"] for a in r.json()["choices"][0]["message"]["annotations"]}
    assert urls == {"https://www.example.com/turnout", "https://www.example.com/other", "https://wiki.example.com/json"}


def test_search_prompt_replaces_the_instruction(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": USER}],
                                        "plugins": [{"id": "web", "search_prompt": "Sources found on {date}:"}]})
    assert r.status_code == 200
    sent = upstream_user_text(plug)
    assert "Sources found on 20" in sent and "IMPORTANT: Cite them" not in sent


def test_anthropic_dialect_gets_web_search_result_locations(plug: Plug) -> None:
    body = {"model": "test/echo", "max_tokens": 200, "plugins": [{"id": "web", "max_results": 2}],
            "messages": [{"role": "user", "content": USER}]}
    r = plug.post("/messages", body)
    assert r.status_code == 200, r.text
    msg = r.json()
    text_block = next(b for b in msg["content"] if b["type"] == "text")
    cites = text_block["citations"]
    assert len(cites) == 2 and all(c["type"] == "web_search_result_location" for c in cites)
    assert {c["url"] for c in cites} == {"https://www.example.com/turnout", "https://docs.example.org/plugins"}
    assert all(c["cited_text"] and "encrypted_index" in c for c in cites)
    assert msg["usage"]["server_tool_use"] == {"web_search_requests": 1}

    r, events = plug.stream("/messages", body)
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    citations = [d["citation"] for d in deltas if d["type"] == "citations_delta"]
    assert len(citations) == 2 and citations[0]["type"] == "web_search_result_location"
    names = [n for n, _ in events]
    assert names.index("message_delta") > max(i for i, (n, d) in enumerate(events) if n == "content_block_delta")
    final = next(d for n, d in events if n == "message_delta")
    assert final["usage"]["server_tool_use"] == {"web_search_requests": 1}


def test_anthropic_web_search_tool_runs_for_any_model(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/messages", {"model": "test/searcher", "max_tokens": 100, "messages": [{"role": "user", "content": USER}],
                                "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
                                           "allowed_domains": ["example.com"]}]})
    assert r.status_code == 200, r.text
    assert len(plug.fakes.engines.requests) == before + 1  # the model searched once
    cites = next(b for b in r.json()["content"] if b["type"] == "text")["citations"]
    assert {c["url"] for c in cites} <= {"https://www.example.com/turnout", "https://www.example.com/other",
                                         "https://wiki.example.com/json"}


def test_responses_dialect_gets_url_citation_annotations(plug: Plug) -> None:
    body = {"model": "test/echo", "input": USER, "plugins": [{"id": "web"}]}
    r = plug.post("/responses", body)
    assert r.status_code == 200, r.text
    out = r.json()
    part = next(i for i in out["output"] if i["type"] == "message")["content"][0]
    annotations = part["annotations"]
    assert annotations and all(a["type"] == "url_citation" for a in annotations)
    check_spans(part["text"], annotations)
    assert out["usage"]["server_tool_use_details"] == {"web_search_requests": 1}

    r, events = plug.stream("/responses", body)
    done = next(d for n, d in events if n == "response.content_part.done")
    assert done["part"]["annotations"] == annotations
    completed = next(d for n, d in events if n == "response.completed")
    item = next(i for i in completed["response"]["output"] if i["type"] == "message")
    assert item["content"][0]["annotations"] == annotations


def test_openrouter_server_tool_in_chat(plug: Plug) -> None:
    # streamed: the plugin form (one search before the answer); tests/plugins/test_server_tool_loop.py has the loop
    r, events = plug.stream("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": USER}],
                            "tools": [{"type": "openrouter:web_search", "parameters": {"engine": "brave", "max_results": 1}}]})
    assert r.status_code == 200
    annotated = [d for _, d in events if d != "[DONE]" and d.get("choices") and d["choices"][0]["delta"].get("annotations")]
    assert len(annotated[0]["choices"][0]["delta"]["annotations"]) == 1
    assert "tools" not in plug.fakes.upstream.state.requests[-1]["body"]
    rec = plug.record(events[0][1]["id"])
    assert any(s["type"] == "server_tools" and s["data"]["engine"] == "brave" for s in rec["pipeline"])


def test_native_search_where_the_provider_searches(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/zai-echo", "plugins": [{"id": "web", "max_results": 4}],
                                        "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200, r.text
    assert len(plug.fakes.engines.requests) == before  # no engine: Z.ai searched
    tools = plug.fakes.zai.requests[-1]["body"]["tools"]
    assert tools == [{"type": "web_search", "web_search": {"enable": True, "search_engine": "search_pro_jina",
                                                           "search_result": True, "count": 4}}]
    assert {"type": "plugin", "name": "web", "data": {"engine": "native"}} in plug.record(r.json()["id"])["pipeline"]


def test_an_engine_asked_for_searches_even_where_the_provider_could(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/zai-echo", "plugins": [{"id": "web", "engine": "exa"}],
                                        "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200, r.text
    assert "tools" not in plug.fakes.zai.requests[-1]["body"]  # searched once, by Exa
    assert r.json()["choices"][0]["message"]["annotations"]


@pytest.mark.parametrize(("plugin", "status", "words"), [
    ({"id": "web", "engine": "native"}, 400, "native"),
    ({"id": "web", "engine": "bing"}, 400, "engine"),
    ({"id": "web", "max_results": 0}, 400, "max_results"),
    ({"id": "web", "include_domains": "example.com"}, 400, "include_domains"),
    ({"id": "moderation"}, 400, "unknown plugin"),
])
def test_bad_plugin_options_are_clear_400s(plug: Plug, plugin: dict[str, Any], status: int, words: str) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "plugins": [plugin], "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_a_failing_engine_is_a_502_naming_it(plug: Plug) -> None:
    r = plug.post("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web", "engine": "exa"}],
                                        "messages": [{"role": "user", "content": "please fail now"}]})
    assert r.status_code == 502 and "web search engine exa failed: HTTP 500" in r.json()["error"]["message"]
    r = plug.post("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web", "engine": "brave"}],
                                        "messages": [{"role": "user", "content": "junk please"}]})
    assert r.status_code == 502 and "not its search format" in r.json()["error"]["message"]


def test_no_engine_configured_is_a_clear_400(start_plug: Any) -> None:
    own: Plug = start_plug(web_search={})
    r = own.post("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web"}],
                                       "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 400 and "web_search.engines" in r.json()["error"]["message"]
    r = own.post("/chat/completions", {"model": "test/zai-echo", "plugins": [{"id": "web"}],
                                       "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200  # native needs no engine


def test_config_default_on_and_a_request_turning_it_off(start_plug: Any) -> None:
    own: Plug = start_plug(plugins=[{"id": "web", "engine": "tavily", "max_results": 1}])
    before = len(own.fakes.engines.requests)
    r = own.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200 and len(r.json()["choices"][0]["message"]["annotations"]) == 1
    assert len(own.fakes.engines.requests) == before + 1
    r = own.post("/chat/completions", {"model": "test/echo", "plugins": [{"id": "web", "enabled": False}],
                                       "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200 and "annotations" not in r.json()["choices"][0]["message"]
    assert len(own.fakes.engines.requests) == before + 1
    assert "server_tool_use_details" not in r.json()["usage"]


def test_a_request_without_plugins_pays_nothing(plug: Plug) -> None:
    before = len(plug.fakes.engines.requests)
    r = plug.post("/chat/completions", {"model": "test/echo", "messages": [{"role": "user", "content": USER}]})
    assert r.status_code == 200
    assert len(plug.fakes.engines.requests) == before
    usage = r.json()["usage"]
    assert Decimal(str(usage["cost"])) == token_cost(usage) and "server_tool_use_details" not in usage
    assert plug.record(r.json()["id"])["pipeline"] == []


def test_the_hold_covers_the_search_fee(plug: Plug) -> None:
    """A key whose limit covers the tokens' worst case but not the search's price on top is refused
    before the search runs: the fee is part of what the request holds."""
    from tests.conftest import create_key

    key = create_key(plug.settings, "fee-hold", Decimal("0.009"))
    before = len(plug.fakes.engines.requests)
    body = {"model": "test/echo", "max_tokens": 10, "messages": [{"role": "user", "content": USER}]}
    deadline = time.monotonic() + 5
    while True:  # the server picks a new key up within a second
        r = httpx.post(f"{plug.api}/chat/completions", json={**body, "plugins": [{"id": "web", "engine": "exa", "max_results": 1}]},
                       headers={"authorization": f"Bearer {key}"}, timeout=30)
        if r.status_code != 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 402, r.text
    assert len(plug.fakes.engines.requests) == before
    r = httpx.post(f"{plug.api}/chat/completions", json={**body, "plugins": [{"id": "web", "engine": "searxng", "max_results": 1}]},
                   headers={"authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text  # SearXNG's $0.004 fits


@pytest.mark.parametrize("stream", [False, True])
def test_legacy_completions_search_and_report_it(plug: Plug, stream: bool) -> None:
    body = {"model": "test/echo", "prompt": USER, "plugins": [{"id": "web", "engine": "tavily", "max_results": 2}]}
    before = len(plug.fakes.engines.requests)
    if stream:
        r, events = plug.stream("/completions", body)
        usage = next(d["usage"] for _, d in events if d != "[DONE]" and d.get("usage"))
        text = "".join(d["choices"][0]["text"] for _, d in events if d != "[DONE]" and d.get("choices"))
    else:
        r = plug.post("/completions", body)
        usage, text = r.json()["usage"], r.json()["choices"][0]["text"]
    assert r.status_code == 200
    assert len(plug.fakes.engines.requests) == before + 1
    assert "IMPORTANT: Cite them" in text  # the echo model repeats the prompt it was given
    assert usage["server_tool_use_details"] == {"web_search_requests": 1}
    assert Decimal(str(usage["cost"])) == token_cost(usage) + Decimal(PRICES["tavily"])
