"""Per-model parameter rules: parsing, lookup, and the notes a translator makes (or the 400 it raises)."""

from __future__ import annotations

import pytest

from turnout.core.catalog.catalog import CatalogError, build_catalog
from turnout.model.chat import ChatRequest, Message
from turnout.model.errors import GatewayError
from turnout.providers.rules import Adjustments, ParamRules, RuleBook, RulesError, admit_sampling, parse_rules

USER = [Message("user", "hi")]


def test_nearest_effort_and_budget_clamp() -> None:
    rules = ParamRules(efforts=("low", "high"), budget_min=128, budget_max=32768)
    assert [rules.nearest_effort(e) for e in ("minimal", "low", "medium", "high", "xhigh", "max")] == [
        "low", "low", "low", "high", "high", "high"]
    assert (rules.clamp_budget(10), rules.clamp_budget(5000), rules.clamp_budget(10**6)) == (128, 5000, 32768)


def test_exclusive_sampling_keeps_the_first_and_notes_the_rest() -> None:
    rules = ParamRules(family="F", sampling=frozenset({"temperature", "top_p"}), exclusive=(frozenset({"temperature", "top_p"}),))
    notes = Adjustments("m")
    kept = admit_sampling(ChatRequest("m", USER, temperature=0.2, top_p=0.5, seed=3), rules, ("temperature", "top_p"), notes, "X")
    assert kept == {"temperature": 0.2}
    assert notes.notes == [
        {"param": "top_p", "action": "dropped", "reason": "F refuses temperature and top_p together; temperature was kept"},
        {"param": "seed", "action": "dropped", "reason": "X has no seed"}]
    strict = Adjustments.of(ChatRequest("m", USER, provider={"require_parameters": True}), "m")
    with pytest.raises(GatewayError) as err:
        admit_sampling(ChatRequest("m", USER, seed=3), rules, ("temperature", "top_p"), strict, "X")
    assert err.value.status == 400 and err.value.param == "seed"


def test_lookup_is_first_match_by_dialect_and_pattern() -> None:
    book = RuleBook.parse([
        {"dialect": "gemini", "family": "3 Pro", "models": ["gemini-3-pro*"], "thinking": ["level"], "efforts": ["low", "high"]},
        {"dialect": "gemini", "family": "any", "models": ["*"]},
    ])
    assert book.lookup("gemini", "models/gemini-3-pro-preview").family == "3 Pro"
    assert book.lookup("gemini", "gemini-2.5-flash").family == "any"
    assert book.lookup("anthropic", "gemini-3-pro").family == "default"


@pytest.mark.parametrize("bad", [
    {"dialect": "anthropic", "models": ["x"], "thinking": ["sometimes"]},
    {"dialect": "anthropic", "models": ["x"], "budget_min": -1},
    {"dialect": "anthropic", "models": ["x"], "colour": "red"},
    {"dialect": "anthropic", "models": []},
    {"models": ["x"]},
])
def test_malformed_rules_are_refused_at_start_up(bad: dict) -> None:
    with pytest.raises(RulesError):
        RuleBook.parse([bad])


def test_an_endpoint_overrides_its_family_rules() -> None:
    models = {"a/claude": {"context_length": 1000, "endpoints": [
        {"provider": "anth", "model": "claude-opus-4-7", "pricing": {"prompt": "0", "completion": "0"},
         "parameter_rules": {"efforts": ["low", "high"]}}]}}
    providers = {"anth": {"dialect": "anthropic", "base_url": "http://127.0.0.1:9", "api_key": "k"}}
    rules = build_catalog(providers, models, env={}).models["a/claude"].endpoints[0].target.rules
    assert rules.thinking == ("adaptive",) and rules.efforts == ("low", "high") and rules.sampling == frozenset()
    models["a/claude"]["endpoints"][0]["parameter_rules"] = {"thinking": "adaptive"}
    with pytest.raises(CatalogError):
        build_catalog(providers, models, env={})


def test_parse_rules_over_a_base() -> None:
    base = ParamRules(family="B", thinking=("budget",), budget_min=1024)
    assert parse_rules({"budget_max": 2048}, "x", base) == ParamRules(family="B", thinking=("budget",), budget_min=1024, budget_max=2048)
