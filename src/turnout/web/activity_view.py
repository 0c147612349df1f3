"""The activity dashboard's data (`GET /ui/api/activity`): one key's spend and tokens per day,
per model and per provider, and its recent generations with their full records.

The page itself is static (`/activity`); its script sends the key kept in the browser and draws
what this returns. Charts come drawn: the JSON carries the server's SVG next to the numbers, so
the UI has one chart implementation (`charts.py`) for every page.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from turnout.api.account import generation_json
from turnout.core.catalog.pricing import money as decimal_text
from turnout.core.money.keys import KeyState
from turnout.web import charts
from turnout.web.layout import esc, money, short_tokens
from turnout.web.queries import DayShare, Share, Stats

RECENT = 50
MAX_DAYS = 365


def _share(s: Share) -> dict[str, Any]:
    return {
        "name": s.name,
        "requests": s.requests,
        "tokens": s.tokens,
        "cost": decimal_text(s.cost),
        "cost_display": money(s.cost),
    }


def _day_start(day: str) -> float:
    return float(calendar.timegm(time.strptime(day, "%Y-%m-%d")))


TOP_SERIES = 6  # stacked charts show the biggest names and fold the rest into "other"


def _stacks(rows: list[DayShare], value: Callable[[DayShare], float]) -> dict[str, dict[float, float]]:
    totals: dict[str, float] = {}
    for r in rows:
        totals[r.name] = totals.get(r.name, 0.0) + value(r)
    top = sorted(totals, key=lambda n: -totals[n])[:TOP_SERIES]
    stacks: dict[str, dict[float, float]] = {name: {} for name in top}
    for r in rows:
        series = stacks.setdefault(r.name if r.name in top else "other", {})
        start = _day_start(r.day)
        series[start] = series.get(start, 0.0) + value(r)
    return stacks


def load_activity(stats: Stats, key: KeyState, days: int, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    end = math.floor(now / 86400) * 86400 + 86400
    since = end - days * 86400
    daily = stats.daily_usage(since, key_hash=key.hash)
    by_model = stats.usage_by("model", key.hash, since)
    by_provider = stats.usage_by("provider", key.hash, since)
    recent = stats.recent_generations(key.hash, RECENT)
    total_cost = sum((d.cost for d in daily), Decimal(0))
    drawn: dict[str, dict[str, str]] = {}
    per_day: dict[str, list[dict[str, Any]]] = {}
    for column in ("model", "provider"):
        rows = stats.daily_by(column, key.hash, since)
        per_day[column] = [{"day": r.day, "name": r.name, "requests": r.requests, "tokens": r.tokens,
                            "cost": decimal_text(r.cost)} for r in rows]
        drawn[column] = {
            "spend": charts.stacked_bar_chart(_stacks(rows, lambda r: float(r.cost)), since, end, 86400, _usd,
                                              label=f"spend per day by {column}"),
            "tokens": charts.stacked_bar_chart(_stacks(rows, lambda r: float(r.tokens)), since, end, 86400,
                                               short_tokens, label=f"tokens per day by {column}"),
        }
    return {
        "key": {"name": key.name, "label": key.label, "usage": decimal_text(key.usage),
                "usage_display": money(key.usage),
                "limit": None if key.limit is None else decimal_text(key.limit)},
        "days": days,
        "totals": {
            "cost": decimal_text(total_cost),
            "cost_display": money(total_cost),
            "tokens": sum(d.tokens for d in daily),
            "requests": sum(d.requests for d in daily),
        },
        "daily": [
            {"day": d.day, "requests": d.requests, "prompt_tokens": d.prompt_tokens,
             "completion_tokens": d.completion_tokens, "cost": decimal_text(d.cost), "cost_display": money(d.cost)}
            for d in daily
        ],
        "daily_by_model": per_day["model"],
        "daily_by_provider": per_day["provider"],
        "by_model": [_share(s) for s in by_model],
        "by_provider": [_share(s) for s in by_provider],
        "generations": [
            {**generation_json(r), "cost_display": money(r.cost), "when": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at))}
            for r in recent
        ],
        "charts": drawn,
    }


def _usd(v: float) -> str:
    """Axis labels and hover text only; the figures shown as numbers are exact Decimals."""
    if v == 0:
        return "$0"
    if v >= 1:
        return f"${v:,.2f}"
    return "$" + f"{v:.8f}".rstrip("0")


def render_activity_page() -> str:
    return f"""
<h1>Activity</h1>
<form class="keybox" id="keyform" autocomplete="off">
  <label for="key">API key</label>
  <input id="key" name="key" type="password" placeholder="sk-tn-v1-…" spellcheck="false">
  <select id="group" aria-label="Charts by"><option value="model">by model</option><option value="provider">by provider</option></select>
  <select id="days" aria-label="Period">{''.join(f'<option value="{d}"{" selected" if d == 30 else ""}>{esc(label)}</option>' for d, label in ((1, "Today"), (7, "7 days"), (30, "30 days"), (90, "90 days")))}</select>
  <button type="submit">Show</button>
  <p class="muted small">The key stays in this browser (localStorage) and is sent only to this gateway.</p>
</form>
<p id="activity-error" class="error" hidden></p>
<div id="activity" hidden>
  <p class="muted" id="key-line"></p>
  <div class="facts">
    <div class="fact"><span>Spend</span><b id="total-cost"></b></div>
    <div class="fact"><span>Tokens</span><b id="total-tokens"></b></div>
    <div class="fact"><span>Requests</span><b id="total-requests"></b></div>
  </div>
  <div class="grid2">
    <section><h2>Spend per day</h2><div id="chart-spend"></div></section>
    <section><h2>Tokens per day</h2><div id="chart-tokens"></div></section>
  </div>
  <div class="grid2">
    <section><h2>By model</h2><div class="scroll"><table id="by-model"></table></div></section>
    <section><h2>By provider</h2><div class="scroll"><table id="by-provider"></table></div></section>
  </div>
  <section><h2>Recent generations</h2>
  <div class="scroll"><table id="generations" class="generations"></table></div></section>
</div>"""

