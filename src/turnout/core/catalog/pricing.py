"""Prices and cost: USD per token (or per unit) as Decimal; strings on the wire, as OpenRouter does."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from turnout.model.result import Usage

ZERO = Decimal(0)
PRICE_FIELDS = (
    "prompt", "completion", "request", "image", "web_search", "internal_reasoning",
    "input_cache_read", "input_cache_write",
)


@dataclass(frozen=True, slots=True)
class Pricing:
    """USD per token for tokens, per unit for `request`, `image` and `web_search`."""

    prompt: Decimal = ZERO
    completion: Decimal = ZERO
    request: Decimal = ZERO
    image: Decimal = ZERO
    web_search: Decimal = ZERO
    internal_reasoning: Decimal | None = None  # None: reasoning tokens cost `completion`
    input_cache_read: Decimal | None = None  # None: cached tokens cost `prompt`
    input_cache_write: Decimal | None = None  # None: cache writes cost `prompt`
    # Tiered prices, ascending: (threshold, prices). A request whose prompt is longer than a
    # threshold pays that tier's rates for ALL its tokens (the providers' "cliff" model, e.g.
    # Gemini 2.5 Pro above 200k tokens); a rate a tier leaves out stays the base rate.
    tiers: tuple[tuple[int, Pricing], ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: str, tiers: Any = None) -> Pricing:
        base = cls._parse(raw, where)
        if not tiers:
            return base
        parsed = []
        for i, tier in enumerate(tiers):
            if not isinstance(tier, dict) or not isinstance(tier.get("above"), int) or tier["above"] <= 0:
                raise ValueError(f"{where}: pricing_tiers[{i}] needs a positive integer `above` (prompt tokens)")
            rates = {k: v for k, v in tier.items() if k != "above"}
            merged = {f.name: getattr(base, f.name) for f in fields(base) if f.name != "tiers"}
            merged.update(cls._parse(rates, f"{where}.pricing_tiers[{i}]")._given(rates))
            parsed.append((int(tier["above"]), cls(**merged)))
        return replace(base, tiers=tuple(sorted(parsed, key=lambda t: t[0])))

    def _given(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in raw if raw[name] is not None}

    @classmethod
    def _parse(cls, raw: Any, where: str) -> Pricing:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: pricing must be a mapping")
        unknown = set(raw) - set(PRICE_FIELDS)
        if unknown:
            raise ValueError(f"{where}: unknown pricing field(s) {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None:
                continue
            try:
                d = Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"{where}: pricing.{name} is not a number: {value!r}") from None
            if d < 0:
                raise ValueError(f"{where}: pricing.{name} is negative")
            values[name] = d
        return cls(**values)

    @property
    def is_free(self) -> bool:
        return all(
            getattr(self, f.name) in (None, ZERO) for f in fields(self) if f.name not in ("web_search", "tiers")
        )

    def to_wire(self) -> dict[str, str]:
        """OpenRouter's pricing object: decimal strings, USD per token (optional fields omitted)."""
        out = {"prompt": _s(self.prompt), "completion": _s(self.completion)}
        for name in ("request", "image", "web_search", "internal_reasoning", "input_cache_read", "input_cache_write"):
            value = getattr(self, name)
            if value is not None and (value != ZERO or name in ("request", "image")):
                out[name] = _s(value)
        return out

    def for_prompt(self, prompt_tokens: int) -> Pricing:
        """The prices that apply to a request with this many prompt tokens."""
        chosen = self
        for above, tier in self.tiers:
            if prompt_tokens > above:
                chosen = tier
        return chosen

    def cost(self, usage: Usage) -> Decimal:
        """The exact cost of one request's usage at these prices (at its tier's, when tiered)."""
        if self.tiers:
            chosen = self.for_prompt(usage.prompt_tokens)
            if chosen is not self:
                return chosen.cost(usage)
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        writes = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
        plain_prompt = usage.prompt_tokens - cached - writes
        total = plain_prompt * self.prompt
        total += cached * (self.input_cache_read if self.input_cache_read is not None else self.prompt)
        total += writes * (self.input_cache_write if self.input_cache_write is not None else self.prompt)
        total += self.completions_cost(usage)
        total += self.request + usage.images * self.image + usage.web_search_requests * self.web_search
        return total

    def completions_cost(self, usage: Usage) -> Decimal:
        """The completion tokens' part of `cost` (reasoning at `internal_reasoning` when priced)."""
        if self.internal_reasoning is None:
            return usage.completion_tokens * self.completion
        reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
        return reasoning * self.internal_reasoning + (usage.completion_tokens - reasoning) * self.completion


def _s(d: Decimal) -> str:
    """A plain decimal string, never scientific notation: "0.00000043", not "4.3E-7"."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def money(d: Decimal) -> str:
    return _s(d)


MAX_USD = Decimal(1_000_000_000)  # a limit or a credit beyond a billion dollars is a typo or an attack
USD_PLACES = 12  # the precision every price and cost is kept at


def usd(raw: object, *, negative: bool = False) -> Decimal:
    """A USD amount from a number or a string, within what can be stored and shown: finite, at most
    `MAX_USD` in size, at most `USD_PLACES` decimal places (`1e50000000` would print as 50 MB of
    digits and overflow PostgreSQL's NUMERIC). Raises ValueError with the reason."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError("must be a number of USD")
    if isinstance(raw, str) and len(raw) > 64:
        raise ValueError("must be a number of USD")
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        raise ValueError("must be a number of USD") from None
    if not value.is_finite():
        raise ValueError("must be a finite number of USD")
    if value < 0 and not negative:
        raise ValueError("must be zero or more")
    if value.adjusted() > MAX_USD.adjusted() or abs(value) > MAX_USD:  # adjusted() first: abs() may overflow
        raise ValueError(f"must be at most {MAX_USD:,} USD")
    if value != value.quantize(Decimal(1).scaleb(-USD_PLACES)):
        raise ValueError(f"may have at most {USD_PLACES} decimal places")
    return value
