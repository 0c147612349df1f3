"""OpenRouter's `provider` object (routing preferences), parsed from a request body into the
router's `Preferences` (core/routing/router.py): every error a 400 naming the field.

Every inference route parses it when it opens the request's context (api/pipeline.py), after a
preset has added its fields, and the gateway hands the result to the router for each model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from turnout.core.routing.router import SORTS, Preferences
from turnout.model.errors import invalid


def _names(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise invalid(where, f"'{where}' must be an array of strings")
    return [x.lower() for x in raw]


def _flag(raw: dict[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"provider.{name}", f"'provider.{name}' must be a boolean")
    return value


def parse_preferences(raw: dict[str, Any] | None) -> Preferences:
    """The `provider` object, validated; every error is a 400 naming the field."""
    p = Preferences()
    if not raw:
        return p
    if "order" in raw and raw["order"] is not None:
        p.order = _names(raw["order"], "provider.order")
    p.allow_fallbacks = _flag(raw, "allow_fallbacks", True)
    p.require_parameters = _flag(raw, "require_parameters", False)
    p.zdr = _flag(raw, "zdr", False)
    dc = raw.get("data_collection")
    if dc is not None:
        if dc not in ("allow", "deny"):
            raise invalid("provider.data_collection", "'provider.data_collection' must be allow or deny")
        p.data_collection = dc
    if raw.get("only") is not None:
        p.only = set(_names(raw["only"], "provider.only"))
    if raw.get("ignore") is not None:
        p.ignore = set(_names(raw["ignore"], "provider.ignore"))
    if raw.get("quantizations") is not None:
        p.quantizations = set(_names(raw["quantizations"], "provider.quantizations"))
    sort = raw.get("sort")
    if isinstance(sort, dict):
        sort = sort.get("by")
    if sort is not None:
        if not isinstance(sort, str) or sort not in SORTS:
            raise invalid("provider.sort", f"'provider.sort' must be one of {sorted(SORTS)}")
        p.sort = sort
    mp = raw.get("max_price")
    if mp is not None:
        if not isinstance(mp, dict):
            raise invalid("provider.max_price", "'provider.max_price' must be an object")
        for k, v in mp.items():
            if k not in ("prompt", "completion", "request", "image"):
                raise invalid(f"provider.max_price.{k}", f"unknown max_price field {k!r}")
            try:
                if isinstance(v, bool) or not isinstance(v, int | float | str):
                    raise ArithmeticError
                price = Decimal(str(v))
                if not price.is_finite():  # NaN cannot be compared: a 500 later, not a 400 here
                    raise ArithmeticError
                p.max_price[k] = price
            except ArithmeticError:
                raise invalid(f"provider.max_price.{k}", f"'provider.max_price.{k}' must be a number") from None
    return p
