"""The catalog page (`/` and `/models`): every model, searchable and filterable.

Filtering happens here, on the server, from the query string (`q`, `modality`, `context`,
`price`, `provider`, `param`, `sort`), so every filtered view is a plain link and works without script;
`catalog.js` only re-submits the form as the user types and swaps in the new list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from turnout.core.catalog.catalog import Catalog, Endpoint, Model
from turnout.core.routing.availability import Verdict, model_verdict
from turnout.web.layout import day, esc, per_million, short_tokens
from turnout.web.markdown import markdown_text

Judge = Callable[[Endpoint], Verdict]  # the runtime's availability (core/routing/availability.py)

MODALITIES = ("text", "image", "video", "file", "audio")
CONTEXTS = ((0, "Any"), (32_000, "≥ 32K"), (64_000, "≥ 64K"), (128_000, "≥ 128K"), (200_000, "≥ 200K"))
PRICES = (("", "Any"), ("free", "Free"), ("0.5", "≤ $0.50/M"), ("1", "≤ $1/M"), ("5", "≤ $5/M"))
PARAMS = (("tools", "Tools"), ("reasoning", "Reasoning"), ("structured_outputs", "Structured outputs"),
          ("response_format", "Response format"))
SORT_LABELS = (("", "Catalog order"), ("newest", "Newest"), ("price", "Cheapest input"), ("context", "Longest context"))
MILLION = Decimal(1_000_000)


def _input_price(m: Model) -> Decimal:
    top = m.top_endpoint
    return top.pricing.prompt if top else Decimal(0)


SORTS: dict[str, Callable[[Model], Any]] = {
    "newest": lambda m: -m.created,
    "price": _input_price,
    "context": lambda m: -m.context_length,
}


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    modalities: tuple[str, ...] = ()
    min_context: int = 0
    max_price: str = ""  # "" any, "free", or dollars per million input tokens
    provider: str = ""
    params: tuple[str, ...] = ()
    sort: str = ""  # "" catalog order, or a key of SORTS
    everything: bool = False  # also the dataset's models that no configured key unlocks
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str], multi: Mapping[str, list[str]]) -> Filters:
        try:
            min_context = max(int(query.get("context") or 0), 0)
        except ValueError:
            min_context = 0
        price = query.get("price") or ""
        sort = query.get("sort") or ""
        try:
            page = min(max(int(query.get("page") or 1), 1), 100_000)
        except ValueError:
            page = 1
        if price not in {p for p, _ in PRICES}:
            price = ""
        return cls(
            q=(query.get("q") or "").strip()[:200],
            modalities=tuple(m for m in multi.get("modality", []) if m in MODALITIES),
            min_context=min_context,
            max_price=price,
            provider=(query.get("provider") or "").strip(),
            params=tuple(p for p in multi.get("param", []) if p in dict(PARAMS)),
            sort=sort if sort in SORTS else "",
            everything=(query.get("all") or "") in ("1", "on", "true"),
            page=page,
        )

    def link(self, page: int) -> str:
        """This view's query string, on another page."""
        pairs: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        pairs += [("modality", m) for m in self.modalities] + [("param", p) for p in self.params]
        for name, value in (("context", self.min_context or ""), ("price", self.max_price), ("provider", self.provider),
                            ("sort", self.sort), ("all", "1" if self.everything else "")):
            if value:
                pairs.append((name, str(value)))
        pairs.append(("page", str(page)))
        return "?" + urlencode(pairs)

    def admits(self, model: Model) -> bool:
        if self.q:
            hay = f"{model.id} {model.name} {model.description}".lower()
            if not all(word in hay for word in self.q.lower().split()):
                return False
        if any(m not in model.input_modalities for m in self.modalities):
            return False
        if model.context_length < self.min_context:
            return False
        if self.provider and all(e.provider.slug != self.provider for e in model.endpoints):
            return False
        if any(p not in model.supported_parameters for p in self.params):
            return False
        if self.max_price:
            top = model.top_endpoint
            prompt = top.pricing.prompt if top else Decimal(0)
            if self.max_price == "free":
                if not (top and top.pricing.is_free):
                    return False
            elif prompt * MILLION > Decimal(self.max_price):
                return False
        return True


def unavailable_note(verdict: Verdict) -> str:
    """An "Unavailable" badge and what to set or install, or "" for a model that can answer."""
    ok, why = verdict
    if ok:
        return ""
    return (f'<span class="badge off">Unavailable</span>'
            f'<p class="unavailable small">Unavailable: {esc(why)}</p>')


def render_list(models: list[Model], judge: Judge) -> str:
    if not models:
        return '<p class="muted" id="no-models">No models match these filters.</p>'
    cards = []
    for m in models:
        verdict = model_verdict(m, judge)
        top = m.top_endpoint
        if top is None:
            price = "—"
        elif top.pricing.is_free:
            price = "Free"
        else:
            price = f"{per_million(top.pricing.prompt)}/M input · {per_million(top.pricing.completion)}/M output"
        providers = ", ".join(sorted({e.provider.name for e in m.endpoints}))
        text = " ".join(markdown_text(m.description).split())
        blurb = text if len(text) <= 220 else text[:217].rsplit(" ", 1)[0].rstrip(".,;:") + "…"
        cards.append(
            f'<li class="card" data-model="{esc(m.id)}" data-available="{str(verdict[0]).lower()}">'
            f'<a class="card-title" href="/models/{esc(m.id)}">{esc(m.name)}</a>'
            f'<code class="small">{esc(m.id)}</code>{unavailable_note(verdict)}<p>{esc(blurb)}</p>'
            f'<div class="meta"><span>{short_tokens(m.context_length)} context</span><span>{price}</span>'
            f'<span>{esc(" + ".join(m.input_modalities))} → {esc(" + ".join(m.output_modalities))}</span>'
            f"<span>{esc(providers)}</span><span>{day(m.created)}</span></div></li>"
        )
    return f'<ul class="cards" id="model-list">{"".join(cards)}</ul>'


PAGE_SIZE = 60


def render_results(models: list[Model], judge: Judge, f: Filters | None = None) -> str:
    """One page of the matching models (thousands are paged on the server, never all sent)."""
    f = f or Filters()
    pages = max((len(models) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(f.page, pages)
    shown = models[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    nav = ""
    if pages > 1:
        prev = f'<a rel="prev" href="{esc(f.link(page - 1))}">← Previous</a>' if page > 1 else ""
        nxt = f'<a rel="next" href="{esc(f.link(page + 1))}">Next →</a>' if page < pages else ""
        nav = f'<nav class="pager" id="pager">{prev}<span>Page {page} of {pages}</span>{nxt}</nav>'
    return f'<p class="count" id="model-count">{len(models)} shown</p>{render_list(shown, judge)}{nav}'


def matching(catalog: Catalog, f: Filters) -> list[Model]:
    models = [m for m in catalog.listed(f.everything) if f.admits(m)]
    return sorted(models, key=SORTS[f.sort]) if f.sort else models


def _options(pairs: tuple[tuple[object, str], ...], chosen: object) -> str:
    return "".join(
        f'<option value="{esc(v)}"{" selected" if str(v) == str(chosen) else ""}>{esc(label)}</option>' for v, label in pairs
    )


def render_catalog(catalog: Catalog, f: Filters, judge: Judge) -> str:
    models = matching(catalog, f)
    providers = (("", "Any provider"), *((slug, p.name) for slug, p in sorted(catalog.providers.items())))
    mods = "".join(
        f'<label class="check"><input type="checkbox" name="modality" value="{m}"{" checked" if m in f.modalities else ""}>{m}</label>'
        for m in MODALITIES
    )
    params = "".join(
        f'<label class="check"><input type="checkbox" name="param" value="{p}"{" checked" if p in f.params else ""}>{label}</label>'
        for p, label in PARAMS
    )
    return f"""
<h1>Models</h1>
<p class="muted">{len(catalog.listed())} models served by this gateway ({len(catalog.models)} in the catalog). One key, one base URL:
<code>/api/v1</code>.</p>
<form class="filters" id="filters" method="get" action="/models" role="search">
  <input type="search" name="q" value="{esc(f.q)}" placeholder="Search models" aria-label="Search models" autocomplete="off">
  <fieldset><legend>Input</legend>{mods}</fieldset>
  <fieldset><legend>Parameters</legend>{params}</fieldset>
  <div class="selects">
    <label>Context <select name="context">{_options(CONTEXTS, f.min_context)}</select></label>
    <label>Input price <select name="price">{_options(PRICES, f.max_price)}</select></label>
    <label>Provider <select name="provider">{_options(providers, f.provider)}</select></label>
    <label>Sort <select name="sort">{_options(SORT_LABELS, f.sort)}</select></label>
    <label class="check"><input type="checkbox" name="all" value="1"{" checked" if f.everything else ""}>Include models no configured key unlocks</label>
  </div>
  <noscript><button type="submit">Filter</button></noscript>
</form>
<div id="results">{render_results(models, judge, f)}</div>"""
