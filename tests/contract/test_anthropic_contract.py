"""Every Messages body turnout builds is what the official `anthropic` SDK declares, model by model.

The SDK's request TypedDicts (anthropic.types.MessageCreateParams*) are the contract: an undeclared
field (a sampling parameter, say), a literal the SDK does not list or a missing required field
fails. On top of the types, each model family's rules (catalog `parameter_rules`) are checked: the
thinking form the model takes, budgets in range and below max_tokens, efforts the model lists.
"""

from __future__ import annotations

import orjson
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming, MessageCreateParamsStreaming

from tests.contract.matrix import CASES, target
from tests.contract.sdk_types import assert_declared, undeclared
from turnout.model.errors import GatewayError
from turnout.providers.anthropic import AnthropicAdapter

MODELS = ["claude-fable-5", "claude-opus-4-7", "claude-opus-4-6", "claude-opus-4-5", "claude-sonnet-4-5-20250929",
          "claude-mythos-preview", "claude-haiku-4-5"]
REFUSED = {"audio": "messages[0].content[0]", "video": "messages[0].content[1]"}


def build(case: str, model: str) -> dict:
    up = AnthropicAdapter().build_request(CASES[case](), target("anthropic", model))
    assert up.headers["anthropic-version"] == ANTHROPIC_API_VERSION and up.headers["x-api-key"] == "key"
    return orjson.loads(up.body)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_body_is_what_the_sdk_declares(case: str, model: str) -> None:
    if case in REFUSED:
        with pytest.raises(GatewayError) as err:
            build(case, model)
        assert err.value.status == 400 and err.value.param == REFUSED[case]
        return
    body = build(case, model)
    params = MessageCreateParamsStreaming if body.get("stream") else MessageCreateParamsNonStreaming
    assert_declared(body, params, f"the {case!r} body for {model}")
    rules = target("anthropic", model).rules
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        assert "budget" in rules.thinking, (model, thinking)
        assert rules.clamp_budget(thinking["budget_tokens"]) == thinking["budget_tokens"] >= 1024
        assert thinking["budget_tokens"] < body["max_tokens"]
    if thinking.get("type") == "adaptive":
        assert "adaptive" in rules.thinking, (model, thinking)
    if thinking.get("type") == "disabled":
        assert rules.thinking_off, model
    effort = (body.get("output_config") or {}).get("effort")
    assert effort is None or effort in rules.efforts, (model, effort)


def test_the_check_refuses_what_the_sdk_does_not_know() -> None:
    """The contract is only as strict as its checker: fields the SDK dropped or never had fail."""
    body = build("plain", "claude-opus-4-7")
    assert undeclared(body, MessageCreateParamsNonStreaming) == []
    for bad in ({"temperature": 0.5}, {"top_k": 5}, {"thinking": {"type": "enabled"}}, {"thinking": {"type": "auto"}},
                {"output_config": {"effort": "minimal"}}, {"messages": [{"role": "user", "content": [{"type": "txt", "text": "x"}]}]}):
        assert undeclared({**body, **bad}, MessageCreateParamsNonStreaming), bad


def test_adaptive_models_get_adaptive_thinking_and_effort() -> None:
    body = build("reasoning-high", "claude-opus-4-7")
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"} and body["output_config"] == {"effort": "high"}
    body = build("reasoning-budget", "claude-fable-5")  # a budget the model cannot take is dropped, not sent
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"} and "output_config" not in body
    assert build("reasoning-excluded", "claude-opus-4-7")["thinking"] == {"type": "adaptive", "display": "omitted"}
    body = build("reasoning-max", "claude-opus-4-6")
    assert body["output_config"] == {"effort": "max"}
    body = build("reasoning-xhigh", "claude-opus-4-6")  # 4.6 has no xhigh: the nearest level below
    assert body["output_config"] == {"effort": "high"}


def test_budget_models_get_enabled_thinking() -> None:
    body = build("reasoning-low", "claude-sonnet-4-5-20250929")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024} and body["max_tokens"] == 4000
    assert "output_config" not in body  # Sonnet 4.5 takes no effort
    body = build("reasoning-high", "claude-opus-4-5")
    assert body["thinking"]["type"] == "enabled" and body["output_config"] == {"effort": "high"}


def test_thinking_off_only_where_the_model_allows_it() -> None:
    assert build("reasoning-off", "claude-opus-4-7")["thinking"] == {"type": "disabled"}
    assert "thinking" not in build("reasoning-off", "claude-fable-5")  # always thinks: dropped and noted
    up = AnthropicAdapter().build_request(CASES["reasoning-off"](), target("anthropic", "claude-fable-5"))
    assert [n["param"] for n in up.adjusted] == ["reasoning.enabled"]


def test_files_go_in_the_form_anthropic_documents_for_their_type() -> None:
    assert build("pdf-data", "claude-opus-4-7")["messages"][0]["content"][1]["source"]["type"] == "base64"
    assert build("pdf-url", "claude-opus-4-7")["messages"][0]["content"][1] == {
        "type": "document", "source": {"type": "url", "url": "https://docs.example/report.pdf"}, "title": "report.pdf"}
    assert build("text-file", "claude-opus-4-7")["messages"][0]["content"][1] == {
        "type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello world\n"}, "title": "notes.txt"}


def test_budgets_the_model_cannot_take_are_changed_and_noted() -> None:
    up = AnthropicAdapter().build_request(CASES["reasoning-tiny-budget"](), target("anthropic", "claude-sonnet-4-5"))
    assert orjson.loads(up.body)["thinking"]["budget_tokens"] == 1024
    assert [(n["param"], n["action"]) for n in up.adjusted] == [("reasoning.max_tokens", "changed")]
    request = CASES["reasoning-budget"]()
    request.max_tokens = 2000  # below the 3000-token budget: Anthropic needs budget_tokens < max_tokens
    up = AnthropicAdapter().build_request(request, target("anthropic", "claude-sonnet-4-5"))
    body = orjson.loads(up.body)
    assert (body["thinking"]["budget_tokens"], body["max_tokens"]) == (3000, 5000)
    assert [(n["param"], n["action"]) for n in up.adjusted] == [("max_tokens", "changed")]
