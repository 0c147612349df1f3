"""`GET /models`' query parameters, as OpenRouter documents them: filters, sorting and paging.

Parsing is strict (a wrong value is a 400 naming the parameter); applying a query is a pass over
the catalog's models, so only a request that asks for something is charged for it: the plain
`GET /models` is served from a body built once (api/catalog_wire.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from turnout.api.catalog_wire import model_wire, with_base
from turnout.core.catalog.catalog import Model
from turnout.model.errors import ErrorKind, GatewayError

MILLION = Decimal(1_000_000)
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
OUTPUT_MODALITIES = frozenset({"text", "image", "audio", "embeddings", "video", "all"})
INPUT_MODALITIES = frozenset({"text", "image", "audio", "file", "video"})
# The query parameters this module reads; any other one is ignored, as OpenRouter does.
KNOWN = frozenset({"supported_parameters", "output_modalities", "input_modalities", "offset", "limit", "sort", "q",
                   "context", "min_price", "max_price", "min_output_price", "max_output_price", "model_authors",
                   "providers", "zdr", "all"})


def _price(m: Model) -> Decimal:
    top = m.top_endpoint
    return top.pricing.prompt + top.pricing.completion if top else Decimal(0)


SORTS: dict[str, tuple[Callable[[Model], Any], bool]] = {
    "pricing-low-to-high": (_price, False),
    "pricing-high-to-low": (_price, True),
    "context-high-to-low": (lambda m: m.context_length, True),
    "newest": (lambda m: m.created, True),
}


def bad(param: str, message: str) -> GatewayError:
    return GatewayError(ErrorKind.CALLER_INVALID_REQUEST, f"{param}: {message}", param=param,
                        metadata={"param": param})


def _csv(query: Mapping[str, str], name: str, allowed: frozenset[str] | None = None) -> frozenset[str]:
    raw = query.get(name)
    if raw is None or not raw.strip():
        return frozenset()
    values = frozenset(v.strip().lower() for v in raw.split(",") if v.strip())
    if allowed is not None and not values <= allowed:
        raise bad(name, f"unknown value(s) {sorted(values - allowed)}; expected some of {sorted(allowed)}")
    return values


def _int(query: Mapping[str, str], name: str, lo: int, hi: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, f"must be an integer, got {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise bad(name, f"must be between {lo} and {hi}")
    return value


def _usd(query: Mapping[str, str], name: str) -> Decimal | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise bad(name, f"must be a price in USD per million tokens, got {raw[:40]!r}") from None
    if not value.is_finite() or value < 0 or value > 1_000_000:
        raise bad(name, "must be a price between 0 and 1000000 USD per million tokens")
    return value


@dataclass(slots=True)
class ModelQuery:
    parameters: frozenset[str] = frozenset()
    output: frozenset[str] = frozenset({"text"})
    inputs: frozenset[str] = frozenset()
    sort: str | None = None
    q: list[str] = field(default_factory=list)
    min_context: int | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)
    authors: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    zdr: bool = False
    offset: int | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ModelQuery:
        sort = query.get("sort") or None
        if sort is not None and sort not in SORTS:
            raise bad("sort", f"unsupported sort {sort[:40]!r}; turnout sorts by {', '.join(SORTS)}")
        zdr = (query.get("zdr") or "").lower()
        if zdr not in ("", "true", "false"):
            raise bad("zdr", "must be true or false")
        return cls(
            parameters=_csv(query, "supported_parameters"),
            output=_csv(query, "output_modalities", OUTPUT_MODALITIES) or frozenset({"text"}),
            inputs=_csv(query, "input_modalities", INPUT_MODALITIES),
            sort=sort,
            q=(query.get("q") or "").lower().split()[:20],
            min_context=_int(query, "context", 0, 100_000_000),
            prices={k: v for k in ("min_price", "max_price", "min_output_price", "max_output_price")
                    if (v := _usd(query, k)) is not None},
            authors=_csv(query, "model_authors"),
            providers=_csv(query, "providers"),
            zdr=zdr == "true",
            offset=_int(query, "offset", 0, 10_000_000),
            limit=_int(query, "limit", 1, MAX_LIMIT),
        )

    @property
    def is_plain(self) -> bool:
        """Nothing but the default: the pre-built body answers it."""
        return (not self.parameters and self.output == {"text"} and not self.inputs and self.sort is None and not self.q
                and self.min_context is None and not self.prices and not self.authors and not self.providers
                and not self.zdr and self.offset is None and self.limit is None)

    def admits(self, m: Model) -> bool:
        if "all" not in self.output and not self.output & set(m.output_modalities):
            return False
        if self.inputs and not self.inputs <= set(m.input_modalities):
            return False
        if self.parameters and not self.parameters <= set(m.supported_parameters):
            return False
        if self.min_context is not None and m.context_length < self.min_context:
            return False
        if self.authors and m.id.split("/", 1)[0].lower() not in self.authors:
            return False
        if self.providers and not any(e.provider.slug in self.providers for e in m.endpoints):
            return False
        if self.zdr and not any(e.provider.data_policy.get("zdr") for e in m.endpoints):
            return False
        if self.q:
            hay = f"{m.id} {m.name}".lower()
            if not all(word in hay for word in self.q):
                return False
        if self.prices:
            top = m.top_endpoint
            prompt = top.pricing.prompt * MILLION if top else Decimal(0)
            completion = top.pricing.completion * MILLION if top else Decimal(0)
            p = self.prices
            if ("min_price" in p and prompt < p["min_price"]) or ("max_price" in p and prompt > p["max_price"]):
                return False
            if ("min_output_price" in p and completion < p["min_output_price"]) or (
                    "max_output_price" in p and completion > p["max_output_price"]):
                return False
        return True

    def select(self, models: list[Model]) -> list[Model]:
        chosen = [m for m in models if self.admits(m)]
        if self.sort is not None:
            key, reverse = SORTS[self.sort]
            chosen.sort(key=key, reverse=reverse)
        return chosen

    def page(self, models: list[Model], path: str, query: Mapping[str, str]) -> tuple[list[Model], str | None]:
        """Paging is opt-in (OpenRouter): with neither `offset` nor `limit`, the whole list."""
        if self.offset is None and self.limit is None:
            return models, None
        offset = self.offset or 0
        limit = self.limit or DEFAULT_LIMIT
        shown = models[offset : offset + limit]
        if offset + limit >= len(models):
            return shown, None
        args = {k: v for k, v in query.items() if k in KNOWN}
        args.update(offset=str(offset + limit), limit=str(limit))
        return shown, f"{path}?{urlencode(args)}"


def listing(models: list[Model], total: int | None = None, next_url: str | None = None, base: str = "") -> dict[str, Any]:
    """OpenRouter's `ModelsListResponse`; `total_count` counts every match, not only this page;
    `base` makes each `links.details` absolute."""
    return {"data": [with_base(model_wire(m), base) for m in models], "total_count": len(models) if total is None else total,
            "links": {"next": next_url}}
