"""Cost arithmetic in Decimal, checked against hand-computed figures for the seed models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from turnout.core.catalog.catalog import build_catalog
from turnout.core.catalog.pricing import Pricing
from turnout.model.result import Usage


def test_glm_45v_with_cache_reads() -> None:
    # 10,000 prompt tokens of which 8,000 cached, 500 completion tokens on GLM-4.5V:
    # 2,000 x $0.6/M + 8,000 x $0.11/M + 500 x $1.8/M = 0.0012 + 0.00088 + 0.0009 = 0.00298
    p = build_catalog(None, None, env={}).models["z-ai/glm-4.5v"].endpoints[0].pricing
    assert p.cost(Usage(prompt_tokens=10_000, completion_tokens=500, cached_tokens=8_000)) == Decimal("0.00298")


def test_glm_46_and_exacto() -> None:
    catalog = build_catalog(None, None, env={})
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert catalog.models["z-ai/glm-4.6"].endpoints[0].pricing.cost(usage) == Decimal("2.17")
    assert catalog.models["z-ai/glm-4.6:exacto"].endpoints[0].pricing.cost(usage) == Decimal("2.5")


def test_reasoning_tokens_are_billed_as_output_unless_priced_apart() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=100, reasoning_tokens=60)
    assert Pricing(prompt=Decimal("0.001"), completion=Decimal("0.002")).cost(usage) == Decimal("0.21")
    priced = Pricing(prompt=Decimal("0.001"), completion=Decimal("0.002"), internal_reasoning=Decimal("0.003"))
    assert priced.cost(usage) == Decimal("0.01") + 40 * Decimal("0.002") + 60 * Decimal("0.003")


def test_cache_writes_request_and_web_search_fees() -> None:
    p = Pricing(prompt=Decimal("0.000003"), completion=Decimal("0.000015"), input_cache_write=Decimal("0.00000375"),
                input_cache_read=Decimal("0.0000003"), request=Decimal("0.001"), web_search=Decimal("0.033"))
    usage = Usage(prompt_tokens=1000, completion_tokens=10, cached_tokens=200, cache_write_tokens=300, web_search_requests=1)
    expected = (500 * Decimal("0.000003") + 200 * Decimal("0.0000003") + 300 * Decimal("0.00000375")
                + 10 * Decimal("0.000015") + Decimal("0.001") + Decimal("0.033"))
    assert p.cost(usage) == expected


def test_wire_prices_are_plain_decimal_strings() -> None:
    wire = Pricing.parse({"prompt": "0.00000043", "completion": 1.74e-06, "input_cache_read": "0"}, "t").to_wire()
    assert wire == {"prompt": "0.00000043", "completion": "0.00000174", "request": "0", "image": "0"}


@pytest.mark.parametrize("bad", [{"prompt": "cheap"}, {"prompt": "-1"}, {"bogus": "1"}, "free"])
def test_bad_prices_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        Pricing.parse(bad, "models.x")
