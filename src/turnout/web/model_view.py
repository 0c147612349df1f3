"""The model page (`/models/{author}/{slug}`): facts, providers, performance, uptime, activity,
apps and API, from the catalog plus the statistics in `queries`.

`load_model_stats()` is the page's one trip to the records (run in a worker thread);
`render_model()` is pure: catalog objects and numbers in, HTML out.
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from turnout.core.catalog.catalog import Catalog, Endpoint, Model
from turnout.core.money.categories import CATEGORIES
from turnout.core.routing.availability import model_verdict
from turnout.web import charts
from turnout.web.catalog_view import unavailable_note
from turnout.web.layout import day, esc, grouped, per_million, render_description, short_tokens
from turnout.web.queries import Bucket, DayUsage, Share, Stats
from turnout.web.sample_code import render_api
from turnout.web.variants import variants_of

# range name -> (span, bucket width), seconds
RANGES = {"1h": (3600, 60), "24h": (86400, 3600), "7d": (7 * 86400, 3 * 3600), "30d": (30 * 86400, 86400)}
DEFAULT_RANGE = "24h"
UPTIME_HOURS = 72
ACTIVITY_DAYS = 30
APPS_DAYS = 7
LIVE_WINDOW = 1800  # "uptime_last_30m"


@dataclass(slots=True)
class ModelStats:
    now: float
    range: str
    performance: list[Bucket]
    uptime: list[Bucket]  # hourly, by provider slug
    live: list[Bucket]  # the last 30 minutes, by provider name
    live_uptime: list[Bucket]  # the last 30 minutes, by provider slug
    daily: list[DayUsage]
    apps: list[Share]
    week_tokens: int
    category: str | None = None  # the Apps and Activity sections show only apps of this category


def _align(now: float, width: int) -> float:
    """The end of the bucket that holds `now`."""
    return math.floor(now / width) * width + width


def load_model_stats(stats: Stats, model_id: str, range_name: str, now: float | None = None,
                     category: str | None = None) -> ModelStats:
    now = time.time() if now is None else now
    span, width = RANGES[range_name]
    daily = stats.daily_usage(now - ACTIVITY_DAYS * 86400, model=model_id)
    shown = daily if category is None else stats.daily_usage(now - ACTIVITY_DAYS * 86400, model=model_id,
                                                             category=category)
    week_start = time.strftime("%Y-%m-%d", time.gmtime(now - 6 * 86400))
    return ModelStats(
        now=now,
        range=range_name,
        performance=stats.provider_buckets(model_id, _align(now, width) - span, width),
        uptime=stats.provider_uptime(model_id, _align(now, 3600) - UPTIME_HOURS * 3600, 3600),
        live=stats.provider_buckets(model_id, now - LIVE_WINDOW, 60),
        live_uptime=stats.provider_uptime(model_id, now - LIVE_WINDOW, LIVE_WINDOW),
        daily=shown,
        apps=stats.top_apps(model_id, now - APPS_DAYS * 86400, 20, category),
        week_tokens=sum(d.tokens for d in daily if d.day >= week_start),
        category=category,
    )


DEGRADED_BELOW = 95.0  # percent success over 30 minutes, as the health tracker judges it


def health_snapshot(runtime: Any, endpoint: Endpoint) -> dict[str, Any]:
    """The health tracker's live view of an endpoint: `runtime.health.snapshot(endpoint)` where
    the runtime offers one, else the dispatcher's tracker by endpoint key; {} without a tracker."""
    health = getattr(runtime, "health", None)
    if health is not None:
        return dict(health.snapshot(endpoint) or {})
    tracker = getattr(getattr(runtime, "dispatcher", None), "health", None)
    key = getattr(endpoint, "key", None)
    if tracker is not None and key is not None:
        return dict(tracker.snapshot(key) or {})
    return {}


def live_health(runtime: Any, endpoint: Endpoint, st: ModelStats) -> dict[str, Any]:
    """Availability, status (0 up, -2 degraded, -3 paused by the circuit breaker), uptime over 30
    minutes, p50 latency and throughput. The tracker's live figures win; what it does not know
    (it is per process and starts empty) comes from the last 30 minutes of records."""
    ok, why = runtime.dispatcher.availability(endpoint)
    out: dict[str, Any] = {"available": ok, "reason": why, "status": None, "uptime": None, "latency_ms": None,
                           "throughput": None}
    attempts = [b for b in st.live_uptime if b.provider == endpoint.provider.slug]
    if sum(b.requests for b in attempts):
        out["uptime"] = 100.0 * sum(b.ok for b in attempts) / sum(b.requests for b in attempts)
    mine = [b for b in st.live if b.provider == endpoint.provider.name]
    if mine:
        out["latency_ms"] = _mean([b.latency_ms for b in mine], [b.ok for b in mine])
        out["throughput"] = _mean([b.throughput for b in mine], [b.ok for b in mine])
    snap = health_snapshot(runtime, endpoint)
    if isinstance(snap.get("status"), int):
        out["status"] = snap["status"]
    for name, keys in (("uptime", ("uptime_last_30m",)),
                       ("latency_ms", ("latency_last_30m", "latency_p50_ms", "latency_ms")),
                       ("throughput", ("throughput_last_30m", "throughput_p50", "throughput"))):
        value = next((snap[k] for k in keys if snap.get(k) is not None), None)
        if isinstance(value, dict):  # percentiles: {"p50": ..., "p90": ...}
            value = value.get("p50")
        if isinstance(value, int | float):
            out[name] = float(value)
    if out["status"] is None:
        out["status"] = -2 if out["uptime"] is not None and out["uptime"] < DEGRADED_BELOW else 0
    return out


def _mean(values: list[float | None], weights: list[int]) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and w]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def _ms(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:.2f}s"
    return f"{v:.0f}ms" if v >= 10 or v == int(v) else f"{v:.1f}ms"


def _tps(v: float) -> str:
    return f"{v:,.0f} tok/s" if v >= 10 else f"{v:.1f} tok/s"


def render_model(model: Model, catalog: Catalog, runtime: Any, st: ModelStats, base_url: str) -> str:
    top = model.top_endpoint
    pricing = top.pricing if top else None
    base, variants = variants_of(catalog, model)
    max_out = top.max_completion_tokens if top else None
    cache_read = pricing.input_cache_read if pricing else None
    kinds = f'{" + ".join(model.input_modalities)} → {" + ".join(model.output_modalities)}'
    links = ""
    if base is not None:
        links += f'<p class="variant-of">Variant of <a href="/models/{esc(base.id)}">{esc(base.name)}</a></p>'
    if variants and base is None:
        chips = "".join(f'<a class="chip" href="/models/{esc(v)}">{esc(v)}</a>' for v in variants)
        links += f'<p class="variants">Variants: {chips}</p>'
    facts = [
        ("Modalities", esc(kinds)),
        ("Input price", f"{per_million(pricing.prompt if pricing else None)}<small> per 1M</small>"),
        ("Output price", f"{per_million(pricing.completion if pricing else None)}<small> per 1M</small>"),
        ("Cache read", "—" if cache_read is None else f"{per_million(cache_read)}<small> per 1M</small>"),
        ("Context", short_tokens(model.context_length)),
        ("Max output", grouped(max_out)),
        ("Weekly tokens", short_tokens(st.week_tokens)),
        ("Released", day(model.created)),
    ]
    fact_html = "".join(f'<div class="fact"><span>{k}</span><b>{v}</b></div>' for k, v in facts)
    summary = (
        f'Created {day(model.created)} · <span data-testid="context">{grouped(model.context_length)} context</span>'
        f' · <span data-testid="input-price">{per_million(pricing.prompt if pricing else None)}/M input tokens</span>'
        f' · <span data-testid="output-price">{per_million(pricing.completion if pricing else None)}/M output tokens</span>'
    )
    sections = [
        ("providers", f"Providers for {model.name}", _providers(model, runtime, st)),
        ("performance", f"Performance for {model.name}", _performance(st)),
        ("pricing", f"Pricing for {model.name}", _pricing(model)),
        ("apps", f"Apps using {model.name}", _apps(st)),
        ("activity", f"Recent activity on {model.name}", _activity(st)),
        ("uptime", f"Uptime stats for {model.name}", _uptime(model, st)),
        ("api", f"Sample code and API for {model.name}", render_api(model, base_url)),
    ]
    author = model.id.split("/")[0]
    chat_link = (f' <a class="chip" href="/chat?model={quote(model.id, safe="/:")}">Chat with this model</a>'
                 if model.kind == "chat" else "")
    tabs = "".join(f'<a href="#{sid}">{sid.capitalize() if sid != "api" else "API"}</a>' for sid, _, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{html}</section>' for sid, title, html in sections)
    return f"""
<div class="crumbs"><a href="/models">Models</a> / <a href="/models?q={quote(author)}">{esc(author)}</a></div>
<h1 class="model-name">{esc(model.name)}</h1>
<p class="model-id"><code>{esc(model.id)}</code>{chat_link}</p>
{unavailable_note(model_verdict(model, runtime.dispatcher.availability))}
{links}
<p class="summary">{summary}</p>
<div class="description">{render_description(model.description)}</div>
<div class="facts">{fact_html}</div>
<nav class="tabs-nav">{tabs}</nav>
{body}"""


def _providers(model: Model, runtime: Any, st: ModelStats) -> str:
    rows = []
    for e in model.endpoints:
        h = live_health(runtime, e, st)
        status = '<span class="badge ok">Available</span>' if h["status"] == 0 else (
            '<span class="badge warn">Degraded</span>' if h["status"] == -2 else '<span class="badge off">Paused</span>'
        )
        status = status if h["available"] else (
            f'<span class="badge off" title="{esc(h["reason"])}">Unavailable</span>'
            f'<div class="muted small">{esc(h["reason"])}</div>'
        )
        live = " · ".join(
            part for part in (
                f'{h["uptime"]:.1f}% up (30m)' if h["uptime"] is not None else "",
                _ms(h["latency_ms"]) if h["latency_ms"] is not None else "",
                _tps(h["throughput"]) if h["throughput"] is not None else "",
            ) if part
        )
        params = "".join(f"<span class=chip>{esc(p)}</span>" for p in sorted(e.supported_parameters))
        cache = per_million(e.pricing.input_cache_read) if e.pricing.input_cache_read is not None else "—"
        rows.append(
            f'<tr data-provider="{esc(e.provider.slug)}"><td><b>{esc(e.provider.name)}</b>'
            f'<div class="muted small">{esc(e.upstream_model)}</div></td>'
            f"<td>{short_tokens(e.context_length)}</td><td>{grouped(e.max_completion_tokens)}</td>"
            f"<td>{per_million(e.pricing.prompt)}</td><td>{per_million(e.pricing.completion)}</td><td>{cache}</td>"
            f'<td>{esc(e.quantization or "—")}</td>'
            f'<td><details><summary>{len(e.supported_parameters)}</summary><div class="chips">{params}</div></details></td>'
            f'<td>{status}<div class="muted small">{live}</div></td></tr>'
        )
    return f"""<p>turnout routes each request to the best endpoint that can take it, and falls back to the
others before the first byte if one fails. Prices are per million tokens.</p>
<div class="scroll"><table class="providers">
<thead><tr><th>Provider</th><th>Context</th><th>Max output</th><th>Input</th><th>Output</th><th>Cache read</th>
<th>Quantization</th><th>Parameters</th><th>Status</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>"""


def _performance(st: ModelStats) -> str:
    span, width = RANGES[st.range]
    t1 = _align(st.now, width)
    t0 = t1 - span
    latency: dict[str, list[charts.Point]] = {}
    throughput: dict[str, list[charts.Point]] = {}
    for b in st.performance:
        mid = b.start + width / 2
        if b.latency_ms is not None:
            latency.setdefault(b.provider, []).append(charts.Point(mid, b.latency_ms, f"{b.ok} ok of {b.requests}"))
        if b.throughput is not None:
            throughput.setdefault(b.provider, []).append(charts.Point(mid, b.throughput, f"{b.ok} ok of {b.requests}"))
    picker = "".join(
        f'<a href="?range={r}#performance"{" aria-current=true" if r == st.range else ""}>{r}</a>' for r in RANGES
    )
    return f"""<p>Time to first token and generation speed per provider, from this gateway's own traffic.</p>
<div class="range">{picker}</div>
<div class="grid2"><div><h3>Latency (time to first token)</h3>
{charts.line_chart(latency, t0, t1, _ms, label="latency per provider")}</div>
<div><h3>Throughput</h3>
{charts.line_chart(throughput, t0, t1, _tps, label="throughput per provider", axis=short_tokens)}</div></div>"""


def _pricing(model: Model) -> str:
    """Every charge of every endpoint: tokens per million, requests, images and searches per unit."""
    blocks = []
    for e in model.endpoints:
        p = e.pricing
        if p.is_free and not p.web_search:
            rows = [("Input and output", "per 1M tokens", "Free")]
        else:
            rows = [("Input", "per 1M prompt tokens", per_million(p.prompt)),
                    ("Output", "per 1M completion tokens", per_million(p.completion))]
            for label, spec, value in (("Cache read", "per 1M cached prompt tokens", p.input_cache_read),
                                       ("Cache write", "per 1M prompt tokens written to cache", p.input_cache_write),
                                       ("Reasoning", "per 1M reasoning tokens", p.internal_reasoning)):
                if value is not None:
                    rows.append((label, spec, per_million(value)))
        for label, spec, value in (("Request", "per request", p.request), ("Image", "per input image", p.image),
                                   ("Web search", "per search, when enabled", p.web_search)):
            if value:
                rows.append((label, spec, f"${value.normalize():f}"))
        body = "".join(f"<tr><td>{esc(a)}</td><td class=muted>{esc(b)}</td><td><b>{esc(c)}</b></td></tr>" for a, b, c in rows)
        blocks.append(
            f'<div class="price-card" data-provider="{esc(e.provider.slug)}"><h3>{esc(e.provider.name)}</h3>'
            f'<table class="pricing"><tbody>{body}</tbody></table></div>'
        )
    return ("<p>What each provider charges on this gateway; a request's cost is computed exactly from its usage.</p>"
            f'<div class="grid2">{"".join(blocks)}</div>')


def _uptime(model: Model, st: ModelStats) -> str:
    end = _align(st.now, 3600)
    starts = [end - (UPTIME_HOURS - i) * 3600 for i in range(UPTIME_HOURS)]
    names = {e.provider.slug: e.provider.name for e in model.endpoints}
    for b in st.uptime:
        names.setdefault(b.provider, b.provider)
    out = []
    for slug, name in names.items():
        mine = {b.start: b for b in st.uptime if b.provider == slug}
        cells = [(s, mine[s].success_rate if s in mine else None, mine[s].requests if s in mine else 0) for s in starts]
        total = sum(b.requests for b in mine.values())
        overall = f"{100.0 * sum(b.ok for b in mine.values()) / total:.1f}%" if total else "no data"
        out.append(
            f'<div class="uptime-row" data-provider="{esc(slug)}"><div class="uptime-head"><b>{esc(name)}</b>'
            f'<span class="muted">{overall}</span></div>{charts.uptime_strip(cells, label=f"uptime of {name}")}</div>'
        )
    return (
        f"<p>Share of attempts each provider answered, one bar per hour over the last {UPTIME_HOURS // 24} days."
        " Requests the upstream rejected as invalid and rate limits are not counted against it.</p>"
        + "".join(out)
        + '<p class="legend small"><i class="up good"></i>≥99% <i class="up fair"></i>≥90% <i class="up poor"></i>≥50%'
        ' <i class="up down"></i>&lt;50% <i class="up none"></i>no requests</p>'
    )


def _activity(st: ModelStats) -> str:
    end = _align(st.now, 86400)
    bars = [
        (calendar.timegm(time.strptime(d.day, "%Y-%m-%d")), float(d.tokens),
         f"{d.requests} requests, {grouped(d.prompt_tokens)} prompt + {grouped(d.completion_tokens)} completion")
        for d in st.daily
    ]
    total = sum(d.tokens for d in st.daily)
    # Drawn twice, for wide and narrow screens (CSS shows one): a viewBox scales text with the chart.
    chart = "".join(
        f'<div class="{cls}">'
        f'{charts.bar_chart(bars, end - ACTIVITY_DAYS * 86400, end, 86400, short_tokens, label="tokens per day", w=w)}</div>'
        for cls, w in (("wide-only", 1000), ("narrow-only", 560))
    )
    of = f" by {esc(st.category)} apps" if st.category else ""
    return f"""{_category_filter(st, "activity")}<p>Total tokens per day{of} on this gateway over the last {ACTIVITY_DAYS} days:
<b data-testid="activity-total">{grouped(total)}</b> tokens.</p>{chart}"""


def _category_filter(st: ModelStats, section: str) -> str:
    """Links narrowing the Apps and Activity sections to the apps of one category (X-OpenRouter-Categories)."""
    links = [f'<a class="chip{" on" if st.category is None else ""}" href="?range={st.range}#{section}">All</a>']
    links += [f'<a class="chip{" on" if c == st.category else ""}" href="?range={st.range}&amp;category={c}#{section}">'
              f"{c}</a>" for c in CATEGORIES]
    return f'<nav class="categories" data-testid="{section}-categories">{"".join(links)}</nav>'


def _apps(st: ModelStats) -> str:
    nav = _category_filter(st, "apps")
    if not st.apps:
        if st.category:
            return nav + f"<p class=muted>No {esc(st.category)} app used this model in the last {APPS_DAYS} days.</p>"
        return (nav + "<p class=muted>No app has identified itself yet. Apps appear here when they send an "
                "<code>X-Title</code> header.</p>")
    # Titles only: this page is public, and an app's referer is its own key's business.
    rows = "".join(
        f'<tr><td>{i}</td><td><b>{esc(a.name)}</b>'
        + f"</td><td>{short_tokens(a.tokens)}</td><td>{grouped(a.requests)}</td></tr>"
        for i, a in enumerate(st.apps, 1)
    )
    of = f" in {esc(st.category)}" if st.category else ""
    return f"""{nav}<p>Top apps{of} by tokens over the last {APPS_DAYS} days.</p>
<div class="scroll"><table class="apps"><thead><tr><th>#</th><th>App</th><th>Tokens</th><th>Requests</th></tr></thead>
<tbody>{rows}</tbody></table></div>"""
