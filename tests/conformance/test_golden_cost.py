"""Golden costs: for each dialect's fixture, `usage.cost` equals the Decimal worked out by hand.

Prices are the per-dialect ones in conftest.PRICES; token counts are what each fake reports.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.conformance.conftest import ConformanceGateway

USER = [{"role": "user", "content": "hello there"}]

GOLDEN = [
    # OpenAI fake, "cached": prompt 5 (2 cached), completion 3.
    #   3 x 0.000001 + 2 x 0.0000001 + 3 x 0.000002
    ("conf-openai/cached", {}, Decimal("0.0000092")),
    # Z.ai, "cached": prompt_tokens 1200 with 1000 cached, completion 40.
    #   200 x 0.0000006 + 1000 x 0.00000011 + 40 x 0.0000018 = 0.00012 + 0.00011 + 0.000072
    ("conf-zai/cached", {}, Decimal("0.000302")),
    # Z.ai, "web" with the web plugin: prompt 20, completion 10, one search at 0.033.
    #   20 x 0.0000006 + 10 x 0.0000018 + 0.033
    ("conf-zai/web", {"plugins": [{"id": "web"}]}, Decimal("0.03303")),
    # Anthropic, "cached": input 100 (uncached) + 2000 read + 500 written, output 50.
    #   100 x 0.000003 + 2000 x 0.0000003 + 500 x 0.00000375 + 50 x 0.000015
    #   = 0.0003 + 0.0006 + 0.001875 + 0.00075
    ("conf-anthropic/cached", {}, Decimal("0.003525")),
    # Anthropic, "reasoning" with thinking: input 25, output 10 + 150 thinking = 160 (billed as output;
    # the 150 is Anthropic's own output_tokens_details.thinking_tokens, not a count of characters).
    #   25 x 0.000003 + 160 x 0.000015 = 0.000075 + 0.0024
    ("conf-anthropic/reasoning", {"reasoning": {"effort": "low"}}, Decimal("0.002475")),
    # Gemini, "cached": promptTokenCount 3000 with 2048 cached, candidates 40.
    #   952 x 0.0000003 + 2048 x 0.00000003 + 40 x 0.0000025 = 0.0002856 + 0.00006144 + 0.0001
    ("conf-gemini/cached", {}, Decimal("0.00044704")),
    # Gemini, "reasoning": prompt 18, candidates 9 + thoughts 30 = completion 39.
    #   18 x 0.0000003 + 39 x 0.0000025 = 0.0000054 + 0.0000975
    ("conf-gemini/reasoning", {"reasoning": {"effort": "low"}}, Decimal("0.0001029")),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("model", "extra", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_cost(conf: ConformanceGateway, model: str, extra: dict, expected: Decimal, stream: bool) -> None:
    body = {"model": model, "messages": USER, **extra}
    if stream:
        status, chunks, done = conf.stream(body)
        assert status == 200 and done
        usage = chunks[-1]["usage"]
        gen_id = chunks[0]["id"]
    else:
        r = conf.post(body)
        assert r.status_code == 200, r.text
        usage, gen_id = r.json()["usage"], r.json()["id"]
    assert Decimal(str(usage["cost"])) == expected
    assert Decimal(str(conf.generation(gen_id)["total_cost"])) == expected  # the same figure is recorded
