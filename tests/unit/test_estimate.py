"""The prompt estimate's rule (core/money/estimate.py): everything sent upstream counts, text at 1 token a
byte for the bound and 4 bytes a token for the likely size, media at flat or per-character bounds;
and the completion cap behind holds and estimated charges."""

from __future__ import annotations

from decimal import Decimal

from turnout.core.catalog.catalog import Endpoint, Provider
from turnout.core.catalog.pricing import Pricing
from turnout.core.money.estimate import (
    IMAGE_TOKENS,
    MEDIA_URL_TOKENS,
    PER_MESSAGE,
    REASONING_FLOOR,
    completion_cap,
    estimate_prompt,
)
from turnout.core.money.ledger import worst_case
from turnout.model.chat import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Reasoning,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)


def chat(*messages: Message, **kw: object) -> ChatRequest:
    return ChatRequest(model="m/a", messages=list(messages), **kw)  # type: ignore[arg-type]


def test_text_is_bounded_at_a_token_a_byte_and_likely_four_bytes_a_token() -> None:
    e = estimate_prompt(chat(Message(role="user", content="x" * 400)))
    assert e.bound == 400 + PER_MESSAGE and e.typical == 100 + PER_MESSAGE and e.images == 0
    wide = estimate_prompt(chat(Message(role="user", content="é" * 100)))  # 2 bytes each in UTF-8
    assert wide.bound == 200 + PER_MESSAGE


def test_everything_sent_upstream_counts_not_only_message_text() -> None:
    base = estimate_prompt(chat(Message(role="user", content="hi"))).bound
    args = '{"q": "' + "a" * 10_000 + '"}'
    calls = chat(Message(role="user", content="hi"),
                 Message(role="assistant", tool_calls=[ToolCall("call_1", "search", args)]),
                 Message(role="tool", content="r" * 5_000, tool_call_id="call_1"),
                 Message(role="assistant", content="ok", reasoning="t" * 3_000,
                         reasoning_details=[{"type": "reasoning.encrypted", "data": "s" * 2_000}]))
    assert estimate_prompt(calls).bound > base + 10_000 + 5_000 + 3_000 + 2_000
    tools = chat(Message(role="user", content="hi"),
                 tools=[Tool("search", "d" * 4_000, {"type": "object", "properties": {"q": {"description": "p" * 6_000}}})])
    assert estimate_prompt(tools).bound > base + 10_000
    schema = chat(Message(role="user", content="hi"), response_format=ResponseFormat("json_schema", "s", {"d": "x" * 7_000}))
    assert estimate_prompt(schema).bound > base + 7_000
    extra = chat(Message(role="user", content="hi"), extra={"prediction": {"content": "x" * 8_000}})
    assert estimate_prompt(extra).bound > base + 8_000


def test_media_is_counted_by_its_own_rule_not_by_its_base64_bytes() -> None:
    image = "data:image/png;base64," + "A" * 2_000_000
    e = estimate_prompt(chat(Message(role="user", content=[TextPart("what is it"), ImagePart(image), ImagePart("https://x/y.png")])))
    assert e.images == 2 and e.bound == 10 + 2 * IMAGE_TOKENS + PER_MESSAGE
    assert e.typical == (10 + 2 * IMAGE_TOKENS) // 4 + PER_MESSAGE
    audio = estimate_prompt(chat(Message(role="user", content=[AudioPart("A" * 32_000, "wav")])))
    assert audio.bound == 1_000 + PER_MESSAGE
    pdf = estimate_prompt(chat(Message(role="user", content=[FilePart("a.pdf", "data:application/pdf;base64," + "A" * 40_000)])))
    assert pdf.bound == len("a.pdf") + 10_000 + PER_MESSAGE
    remote = estimate_prompt(chat(Message(role="user", content=[FilePart(None, None, "file-123")])))
    assert remote.bound == MEDIA_URL_TOKENS + PER_MESSAGE


def endpoint(max_out: int | None = None, context: int = 10_000, image: str = "0") -> Endpoint:
    provider = Provider(slug="p", name="P", dialect="openai", base_url="http://127.0.0.1:1/v1")
    pricing = Pricing(prompt=Decimal("0.001"), completion=Decimal("0.002"), image=Decimal(image))
    return Endpoint("m/a", provider, "u", pricing, context, max_out, frozenset(), ("text", "image"))


def test_completion_cap_is_max_tokens_plus_a_thinking_budget_when_reasoning_is_on() -> None:
    hi = Message(role="user", content="hi")
    assert completion_cap(chat(hi, max_tokens=50), endpoint(), 10) == 50
    assert completion_cap(chat(hi, max_tokens=50, reasoning=Reasoning(effort="high")), endpoint(), 10) == 50 + REASONING_FLOOR
    assert completion_cap(chat(hi, max_tokens=50, reasoning=Reasoning(max_tokens=3_000)), endpoint(), 10) == 3_050
    assert completion_cap(chat(hi, max_tokens=50, reasoning=Reasoning(effort="none")), endpoint(), 10) == 50
    assert completion_cap(chat(hi), endpoint(max_out=700), 10) == 700
    assert completion_cap(chat(hi), endpoint(context=1_000), 100) == 900


def test_the_worst_case_holds_the_bound_and_each_image_price() -> None:
    request = chat(Message(role="user", content=[TextPart("x" * 96), ImagePart("https://x/y.png")]), max_tokens=10)
    w = worst_case(request, [endpoint(image="0.5")], estimate_prompt(request))
    bound = 96 + IMAGE_TOKENS + PER_MESSAGE
    assert w.prompt_tokens == bound
    assert w.amount == bound * Decimal("0.001") + Decimal("0.5") + 10 * Decimal("0.002")
