"""Prices and cost: USD per token (or per unit) as Decimal; strings on the wire, as OpenRouter does."""

from __future__ import annotations

from dataclasses import dataclass, fields
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

    @classmethod
    def parse(cls, raw: Any, where: str) -> Pricing:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: pricing must be a mapping")
        unknown = set(raw) - set(PRICE_FIELDS)
        if unknown:
            raise ValueError(f"{where}: unknown pricing field(s) {sorted(unknown)}")
        values: dict[str, Decimal] = {}
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
            getattr(self, f.name) in (None, ZERO) for f in fields(self) if f.name != "web_search"
        )

    def to_wire(self) -> dict[str, str]:
        """OpenRouter's pricing object: decimal strings, USD per token (optional fields omitted)."""
        out = {"prompt": _s(self.prompt), "completion": _s(self.completion)}
        for name in ("request", "image", "web_search", "internal_reasoning", "input_cache_read", "input_cache_write"):
            value = getattr(self, name)
            if value is not None and (value != ZERO or name in ("request", "image")):
                out[name] = _s(value)
        return out

    def cost(self, usage: Usage) -> Decimal:
        """The exact cost of one request's usage at these prices."""
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
