"""Page rendering without a browser: formatters, filters, charts, and the routes over HTTP."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from tests.web.conftest import WebGateway

from turnout.core.catalog.catalog import build_catalog
from turnout.web import charts
from turnout.web.catalog_view import Filters
from turnout.web.layout import money, per_million, render_description, short_tokens
from turnout.web.model_view import ModelStats, live_health
from turnout.web.queries import Bucket
from turnout.web.sample_code import parameter_rows, samples

CATALOG = build_catalog(None, None, {})


@pytest.mark.parametrize(
    ("price", "shown"),
    [("0.00000043", "$0.43"), ("0.0000003", "$0.30"), ("0.0000019", "$1.90"), ("0.000001", "$1.00"),
     ("0.00000011", "$0.11"), ("0", "$0"), ("0.0000000125", "$0.0125")],
)
def test_prices_per_million(price: str, shown: str) -> None:
    assert per_million(Decimal(price)) == shown


def test_sizes_and_money() -> None:
    assert [short_tokens(n) for n in (202752, 131072, 65536, 21_400_000_000, 713_000_000, 1500, 8192, 999)] == [
        "203K", "131K", "65.5K", "21.4B", "713M", "1.5K", "8.2K", "999"]
    assert money(Decimal("0.00002211")) == "$0.00002211"
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal(0)) == "$0"


def test_descriptions_are_escaped_and_only_http_links_become_anchors() -> None:
    html = render_description('<b>x</b> [docs](https://example.com/a?b=1&c=2) [bad](javascript:alert(1))')
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener nofollow">docs</a>' in html
    assert "<a" in html and html.count("<a ") == 1 and "[bad](javascript:alert(1))" in html


def test_descriptions_render_their_markdown() -> None:
    html = render_description(
        "Intro with `reasoning` and **bold** and *soft* words, [docs](https://example.com/x).\n\n"
        "- first item\n- second `item`\n\n1. one\n2. two\n\n```\ncode <block>\n```"
    )
    assert html.startswith("<p>Intro with <code>reasoning</code> and <strong>bold</strong> and <em>soft</em>")
    assert '<a href="https://example.com/x" rel="noopener nofollow">docs</a>' in html
    assert "<ul><li>first item</li><li>second <code>item</code></li></ul>" in html
    assert "<ol><li>one</li><li>two</li></ol>" in html
    assert "<pre><code>code &lt;block&gt;</code></pre>" in html
    assert "snake_case_name" in render_description("a snake_case_name here") and "2*3*4" in render_description("2*3*4")


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert%281%29)",
        "[x](  javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](//evil.example/a)",
        "[x](vbscript:msgbox)",
        '[x](https://ok.example/"onmouseover="alert)',
        "[<script>alert(1)</script>](https://ok.example/)",
        "**<script>alert(1)</script>**",
        "`</code><script>alert(1)</script>`",
        "```\n</code></pre><script>alert(1)</script>\n```",
        "- <script>alert(1)</script>\n- [x](javascript:alert(1))",
        "# <script>alert(1)</script>",
        "<https://ok.example/\"><script>alert(1)</script>>",
        "![img](https://tracker.example/pixel.png)",
    ],
)
def test_hostile_descriptions_stay_text(hostile: str) -> None:
    html = render_description(hostile)
    # The only tags are the renderer's own; every attribute is an http(s) href or the rel.
    tags = re.findall(r"<(/?)([a-zA-Z0-9]+)([^>]*)>", html)
    assert {name for _, name, _ in tags} <= {"p", "ul", "ol", "li", "a", "code", "pre", "strong", "em"}, html
    for _, name, attrs in tags:
        if name == "a" and attrs:
            assert re.fullmatch(r' href="https?://[^"<>]*" rel="noopener nofollow"', attrs), html
        else:
            assert attrs == "", html
    assert "<script" not in html and "<img" not in html  # as text, escaped, they are harmless
    assert not re.search(r'href="(?!https?://)', html, re.IGNORECASE)


def test_catalog_excerpts_are_plain_text() -> None:
    from turnout.web.catalog_view import render_list

    catalog = build_catalog(
        {"acme": {"dialect": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k"}},
        {"acme/md": {"context_length": 10, "description": "Toggle **`reasoning`**, see [the docs](https://x.example/).",
                     "endpoints": [{"provider": "acme", "pricing": {"prompt": "0", "completion": "0"}}]}},
        {},
    )
    html = render_list([catalog.models["acme/md"]], lambda e: (True, None))
    assert "<p>Toggle reasoning, see the docs.</p>" in html


def test_filters_select_models() -> None:
    def ids(**query: str | list[str]) -> set[str]:
        single = {k: v for k, v in query.items() if isinstance(v, str)}
        multi = {k: v for k, v in query.items() if isinstance(v, list)}
        f = Filters.parse(single, multi)
        return {m.id for m in CATALOG.models.values() if f.admits(m)}

    assert ids(modality=["image"]) == {"z-ai/glm-4.6v", "z-ai/glm-4.5v", "z-ai/glm-4.6v-flash"}
    assert ids(q="GLM exacto") == {"z-ai/glm-4.6:exacto"}
    assert ids(context="200000") == {"z-ai/glm-4.6", "z-ai/glm-4.6:exacto"}
    assert ids(provider="empiriolabs") == {"z-ai/glm-4.6v-flash"}
    assert "z-ai/glm-4.6" not in ids(price="free") and "z-ai/glm-4.6v-flash" in ids(price="free")
    assert ids(price="0.5") >= {"z-ai/glm-4.6", "z-ai/glm-4.6v"} and "z-ai/glm-4.5v" not in ids(price="0.5")
    assert ids(param=["structured_outputs", "reasoning"]) == {"z-ai/glm-4.5v", "z-ai/glm-4.6v-flash"}
    # Junk in the query string is ignored, not an error.
    assert ids(context="lots", price="cheap", modality=["smell"]) == set(CATALOG.models)


def test_catalog_sorts() -> None:
    from turnout.web.catalog_view import matching

    def order(sort: str) -> list[str]:
        return [m.id for m in matching(CATALOG, Filters.parse({"sort": sort, "q": "z-ai"}, {}))]

    assert order("newest")[0] in ("z-ai/glm-4.6v", "z-ai/glm-4.6v-flash")  # Dec 8, 2025
    assert order("context")[:2] == ["z-ai/glm-4.6", "z-ai/glm-4.6:exacto"]  # 202,752
    assert order("price")[0] == "z-ai/glm-4.6v-flash"  # free
    assert order("sideways") == order("")  # unknown: catalog order


def test_parameter_table_uses_the_models_defaults() -> None:
    rows = {name: (kind, default) for name, kind, default, _ in parameter_rows(CATALOG.models["z-ai/glm-4.5v"])}
    assert rows["temperature"] == ("float", "0.75")  # default_parameters: {temperature: 0.75}
    assert rows["top_p"] == ("float", "1")  # null there: the generic default
    assert rows["structured_outputs"][0] == "boolean"


def test_samples_are_filled_in() -> None:
    code = samples("z-ai/glm-4.6", "http://gw.example/api/v1", reasoning=True)
    assert 'base_url="http://gw.example/api/v1"' in code["python"] and 'model="z-ai/glm-4.6"' in code["python"]
    assert 'baseURL: "http://gw.example/api/v1"' in code["typescript"]
    assert "curl http://gw.example/api/v1/chat/completions" in code["curl"] and '"reasoning"' in code["curl"]


def test_embedding_models_get_embedding_samples(web: WebGateway) -> None:
    html = httpx.get(f"{web.url}/models/sentence-transformers/all-minilm-l6-v2", timeout=10).text
    assert f"POST {web.url}/api/v1/embeddings" in html and "client.embeddings.create(" in html
    assert "chat/completions" not in html.split('id="api"')[1]


def test_charts() -> None:
    empty = charts.line_chart({}, 0, 3600, str, label="x")
    assert "No traffic yet" in empty and "<circle" not in empty
    assert re.findall(r'class="ylab"[^>]*>([^<]*)<', empty) == [""] * 5  # no made-up scale
    ticks = re.findall(r'class="ylab"[^>]*>([^<]*)<', charts.line_chart({"A": [charts.Point(1, 25.0)]}, 0, 3600, str, label="x"))
    assert ticks == ["40.0", "30.0", "20.0", "10.0", "0.0"]  # four round steps above the top value
    two = charts.line_chart({"A": [charts.Point(600, 10.0), charts.Point(1200, 20.0)]}, 0, 3600, str, label="x")
    assert two.count("<circle") == 2 and "<polyline" in two
    bars = charts.bar_chart([(0, 5.0, ""), (86400, 10.0, "")], 0, 3 * 86400, 86400, str, label="y")
    assert bars.count('class="bar"') == 2 and "No traffic" not in bars
    assert [charts.uptime_color(r) for r in (None, 1.0, 0.95, 0.6, 0.1)] == ["none", "good", "fair", "poor", "down"]
    strip = charts.uptime_strip([(0, 1.0, 3), (3600, None, 0)], label="u")
    assert strip.count("<rect") == 2 and "100.0% of 3 requests" in strip and "no requests" in strip


def test_routes_over_http(web: WebGateway) -> None:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        r = client.get("/ui/api/activity")
        assert r.status_code == 401 and r.json()["error"]["message"] == "Missing Authentication header"
        r = client.get("/ui/api/activity", headers={"authorization": "Bearer sk-tn-v1-nope"})
        assert r.status_code == 401
        r = client.get("/ui/api/activity?days=banana", headers={"authorization": f"Bearer {web.key}"})
        assert r.status_code == 200 and r.json()["days"] == 30
        r = client.get("/models/nobody/nothing")
        assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "nobody/nothing" in r.text
        r = client.get("/models/z-ai/glm-4.6?range=forever")
        assert r.status_code == 200 and 'href="?range=24h#performance" aria-current' in r.text
        r = client.get("/models?q=%3Cscript%3Ealert(1)%3C/script%3E")
        assert r.status_code == 200 and "<script>alert" not in r.text and "&lt;script&gt;" in r.text
        r = client.get("/models?modality=image&partial=1")
        assert r.status_code == 200 and r.text.startswith('<p class="count"') and "<html" not in r.text
        r = client.get("/ui/static/turnout.css")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
        assert client.get("/ui/static/nothing.js").status_code == 404
        # The API mounts still come first.
        assert client.get("/api/v1/models").json()["data"]
        # Every script, stylesheet and icon is the package's own: nothing loads from elsewhere.
        for path in ("/", "/models/z-ai/glm-4.6", "/chat", "/activity"):
            assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', client.get(path).text)
            assert assets and all(a.startswith("/ui/static/") for a in assets), assets


class _Dispatcher:
    def availability(self, endpoint: object) -> tuple[bool, str | None]:
        return True, None


class _Tracker:
    def __init__(self, snap: dict[str, object]) -> None:
        self.snap = snap
        self.asked: list[object] = []

    def snapshot(self, what: object) -> dict[str, object]:
        self.asked.append(what)
        return self.snap


def _stats(**kw: object) -> ModelStats:
    base: dict[str, object] = {"now": 0.0, "range": "24h", "performance": [], "uptime": [], "live": [],
                               "live_uptime": [], "daily": [], "apps": [], "week_tokens": 0}
    base.update(kw)
    return ModelStats(**base)  # type: ignore[arg-type]


def test_live_health_prefers_the_tracker_and_falls_back_to_records() -> None:
    endpoint = CATALOG.models["z-ai/glm-4.6"].endpoints[0]
    records = _stats(live=[Bucket("Z.ai", 0, 10, 10, 120.0, 50.0)], live_uptime=[Bucket("z-ai", 0, 10, 8, None, None)])
    # No tracker: the last 30 minutes of records; 80 % success is degraded.
    runtime = SimpleNamespace(dispatcher=_Dispatcher())
    h = live_health(runtime, endpoint, records)
    assert (h["uptime"], h["latency_ms"], h["throughput"], h["status"]) == (80.0, 120.0, 50.0, -2)
    # `runtime.health.snapshot(endpoint)`: its figures win (percentile maps read at p50).
    tracker = _Tracker({"status": -3, "uptime_last_30m": 99.5, "latency_last_30m": {"p50": 42.0, "p90": 80.0},
                        "throughput_last_30m": None})
    h = live_health(SimpleNamespace(dispatcher=_Dispatcher(), health=tracker), endpoint, records)
    assert tracker.asked == [endpoint]
    assert (h["uptime"], h["latency_ms"], h["throughput"], h["status"]) == (99.5, 42.0, 50.0, -3)
    # The dispatcher's tracker, asked by endpoint key.
    dispatcher = _Dispatcher()
    dispatcher.health = _Tracker({"status": 0, "uptime_last_30m": None})  # type: ignore[attr-defined]
    h = live_health(SimpleNamespace(dispatcher=dispatcher), endpoint, _stats())
    assert dispatcher.health.asked == [endpoint.key] and h["status"] == 0 and h["uptime"] is None  # type: ignore[attr-defined]


ZAI_SPELLINGS = re.compile(r"\b[Zz][. _]?[Aa][Ii]\b(?![/_-])")  # not the z-ai slug, not ZAI_API_KEY


def test_provider_names_are_spelled_one_way(web: WebGateway) -> None:
    """Z.ai was "Z.AI" as a provider and on the exacto variant, "Z.ai" on the other models."""
    texts = [p.name for p in CATALOG.providers.values()]
    texts += [f"{m.name} {m.description}" for m in CATALOG.models.values()]
    assert set(ZAI_SPELLINGS.findall(" ".join(texts))) == {"Z.ai"}
    with httpx.Client(base_url=web.url, timeout=10) as client:
        for path in ("/models", "/models/z-ai/glm-4.6", "/models/z-ai/glm-4.6:exacto", "/models/z-ai/glm-4.6v-flash",
                     "/chat"):
            page = client.get(path).text
            assert set(ZAI_SPELLINGS.findall(page)) == {"Z.ai"}, path
