"""A config cannot be got wrong quietly: unknown keys and wrong types are refused with their path,
configured endpoints take what their dialect carries, base_urls are normalized per dialect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from turnout.api.catalog_wire import model_wire
from turnout.config_check import check, effective, load_checked, mask_url
from turnout.core.catalog.catalog import CatalogError, build_catalog
from turnout.core.catalog.dialects import DIALECTS
from turnout.core.routing.health import HealthTracker
from turnout.core.routing.router import Router
from turnout.model.chat import ChatRequest, Message, Tool
from turnout.model.errors import GatewayError
from turnout.providers.anthropic import AnthropicAdapter
from turnout.providers.gemini import GeminiAdapter
from turnout.providers.openai import OpenAIAdapter
from turnout.settings import ConfigError, load_settings


def acme(**provider: Any) -> dict[str, Any]:
    return {"acme": {"dialect": "openai", "base_url": "http://127.0.0.1:9001/v1", "api_key": "k", **provider}}


def echo(**model: Any) -> dict[str, Any]:
    endpoint = model.pop("endpoint", {})
    return {"acme/echo": {"context_length": 8192, "endpoints": [{"provider": "acme", **endpoint}], **model}}


def errors_of(providers: dict[str, Any] | None, models: dict[str, Any] | None) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        build_catalog(providers, models, env={})
    return str(caught.value).splitlines()


# --- unknown keys and wrong types -------------------------------------------------------------

def test_every_unknown_key_is_refused_at_once_with_its_path() -> None:
    lines = errors_of(
        acme(**{"api-kee": "x", "verify_ssl": False, "data_policy": {"trainig": False}}),
        echo(colour="blue", endpoint={"modle": "x", "pricing": {"promt": "1"}}),
    )
    assert lines == [
        "providers.acme.api-kee: unknown key (did you mean 'api_key'?)",
        lines[1],
        "providers.acme.data_policy.trainig: unknown key (did you mean 'training'?)",
        lines[3],
        "models.acme/echo.endpoints[0].modle: unknown key (did you mean 'model'?)",
        "models.acme/echo.endpoints[0].pricing.promt: unknown key (did you mean 'prompt'?)",
    ]
    assert lines[1].startswith("providers.acme.verify_ssl: unknown key (known here: api_key, base_url,")
    assert lines[3].startswith("models.acme/echo.colour: unknown key (known here:")


def test_an_override_of_a_builtin_provider_is_checked_too() -> None:
    assert errors_of({"z-ai": {"apikey": "k"}}, None) == ["providers.z-ai.apikey: unknown key (did you mean 'api_key'?)"]


def test_options_are_checked_against_the_providers_dialect() -> None:
    assert errors_of(acme(options={"quirk": "compatible"}), None) == [
        "providers.acme.options.quirk: unknown key (did you mean 'quirks'?)"]
    assert errors_of({"a": {"dialect": "anthropic", "base_url": "https://x", "options": {"quirks": "compatible"}}}, None)[0] \
        .startswith("providers.a.options.quirks: unknown key (known here: beta, install_hint, max_tokens)")
    build_catalog({"a": {"dialect": "anthropic", "base_url": "https://x", "options": {"beta": "b", "max_tokens": 9}}}, None, env={})
    with pytest.raises(CatalogError, match=r"providers.acme.options.quirks: unknown preset 'vllm'; one of openai, compatible"):
        build_catalog(acme(options={"quirks": "vllm"}), None, env={})


def test_wrong_types_are_refused_with_their_path() -> None:
    lines = errors_of(acme(requires_key="false", headers=["x"]), echo(context_length="8k", endpoint={"exacto": 1}))
    assert lines == [
        "providers.acme.requires_key must be true or false, got str",
        "providers.acme.headers must be a mapping, got list",
        "models.acme/echo.context_length must be an integer, got str",
        "models.acme/echo.endpoints[0].exacto must be true or false, got int",
    ]
    assert errors_of({"acme": "openai"}, None) == ["providers.acme must be a mapping"]


def test_an_unknown_dialect_names_the_known_ones() -> None:
    with pytest.raises(CatalogError, match=r"providers.acme.dialect: unknown dialect 'opeanai'; one of anthropic, gemini, local, openai, zai"):
        build_catalog(acme(dialect="opeanai"), None, env={})


def test_local_engine_options_are_all_declared() -> None:
    local = pytest.importorskip("turnout.providers.local")
    assert set(local._ENGINE_OPTIONS) <= set(DIALECTS["local"].options)


def test_unknown_settings_anywhere_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("colour: blue\nserver: {port: 1, verbose: true}\nlog_level: loud\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{config}: server.verbose: unknown setting (known: " + lines[0].split("(known: ")[1]
    assert lines[1].startswith(f"{config}: colour: unknown setting")
    assert lines[2] == f"{config}: log_level must be one of critical, error, warning, info, debug, trace, got 'loud'"


# --- supported_parameters default to the dialect ----------------------------------------------

def route(catalog: Any, request: ChatRequest) -> list[str]:
    router = Router(catalog, lambda e: e.provider.availability(), HealthTracker())
    return [e.provider.slug for e in router.resolve(request).endpoints]


TOOLS = [Tool(name="get_weather", description=None, parameters={"type": "object"})]


def test_a_configured_model_takes_tools_response_format_and_reasoning_by_default() -> None:
    catalog = build_catalog(acme(), echo(), env={})
    params = catalog.models["acme/echo"].endpoints[0].supported_parameters
    assert {"tools", "tool_choice", "response_format", "structured_outputs", "reasoning", "max_tokens", "seed"} <= params
    assert model_wire(catalog.models["acme/echo"])["supported_parameters"] == sorted(params)
    assert route(catalog, ChatRequest("acme/echo", [Message("user", "hi")], tools=TOOLS)) == ["acme"]


def test_the_config_narrows_the_default_per_model_or_endpoint() -> None:
    catalog = build_catalog(acme(), echo(supported_parameters=["max_tokens", "temperature"]), env={})
    assert catalog.models["acme/echo"].endpoints[0].supported_parameters == {"max_tokens", "temperature"}
    with pytest.raises(GatewayError, match="does not support tool use"):
        route(catalog, ChatRequest("acme/echo", [Message("user", "hi")], tools=TOOLS))
    catalog = build_catalog(acme(), echo(endpoint={"supported_parameters": ["tools"]}), env={})
    assert catalog.models["acme/echo"].endpoints[0].supported_parameters == {"tools"}


def test_each_dialects_default_is_what_it_carries() -> None:
    compat = build_catalog(acme(options={"quirks": "compatible"}), echo(), env={})
    assert "reasoning" not in compat.models["acme/echo"].endpoints[0].supported_parameters  # not sent upstream
    providers = {"g": {"dialect": "gemini", "base_url": "https://g", "api_key": "k"},
                 "a": {"dialect": "anthropic", "base_url": "https://a", "api_key": "k"}}
    models = {"x/g": {"context_length": 10, "endpoints": [{"provider": "g"}]},
              "x/a": {"context_length": 10, "endpoints": [{"provider": "a"}]}}
    catalog = build_catalog(providers, models, env={})
    assert "seed" in catalog.models["x/g"].endpoints[0].supported_parameters
    assert "seed" not in catalog.models["x/a"].endpoints[0].supported_parameters  # Anthropic has none


# --- base_url ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("dialect", "given", "url"), [
    ("openai", "http://127.0.0.1:9001", "http://127.0.0.1:9001/v1/chat/completions"),
    ("openai", "http://127.0.0.1:9001/v1/", "http://127.0.0.1:9001/v1/chat/completions"),
    ("openai", "http://127.0.0.1:9001/v1/chat/completions", "http://127.0.0.1:9001/v1/chat/completions"),
    ("openai", "https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1/chat/completions"),
    ("anthropic", "https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
    ("anthropic", "https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages"),
    ("anthropic", "https://api.anthropic.com/v1/messages", "https://api.anthropic.com/v1/messages"),
    ("anthropic", "http://127.0.0.1:9/proxy/v1", "http://127.0.0.1:9/proxy/v1/messages"),
    ("gemini", "https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"),
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/models", "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"),
])
def test_base_url_in_either_form_reaches_the_dialects_path(dialect: str, given: str, url: str) -> None:
    catalog = build_catalog({"p": {"dialect": dialect, "base_url": given, "api_key": "k"}},
                            {"x/m": {"context_length": 10, "endpoints": [{"provider": "p", "model": "m"}]}}, env={})
    adapter = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter(), "gemini": GeminiAdapter()}[dialect]
    built = adapter.build_request(ChatRequest("x/m", [Message("user", "hi")]), catalog.models["x/m"].endpoints[0].target)
    assert built.url == url


def test_a_base_url_that_is_no_url_is_refused_with_the_expected_form() -> None:
    with pytest.raises(CatalogError, match=r"providers.acme.base_url: '127.0.0.1:9001/v1' is not a http/https URL; "
                                           r"a openai base_url looks like http://127.0.0.1:8000/v1"):
        build_catalog(acme(base_url="127.0.0.1:9001/v1"), None, env={})


# --- turnout config check ---------------------------------------------------------------------

def test_config_check_shows_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("admin_key: adm-secret-0123456789abcdefghijklmnop\nredis_url: redis://u:pw-secret@127.0.0.1:6379/0\nproviders:\n"
                      "  acme: {dialect: openai, base_url: 'http://h:1', api_key: sk-secret, headers: {X-Token: hdr-secret}}\n")
    ok, text = check(str(config), env={"ZAI_API_KEY": "zai-secret"})
    assert ok and text.startswith(f"OK: {config}\n")
    for secret in ("adm-secret", "pw-secret", "sk-secret", "hdr-secret", "zai-secret"):
        assert secret not in text
    assert "base_url: http://h:1/v1" in text and "redis_url: redis://u:***@127.0.0.1:6379/0" in text
    settings, catalog = load_checked(str(config), env={})
    assert effective(settings, catalog)["providers"]["acme"]["api_key"] == "***"
    assert mask_url("postgresql://db/turnout") == "postgresql://db/turnout"


def test_config_check_lists_every_problem_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("providers:\n  acme: {dialect: openai, base_url: 'http://h:1', api-kee: x, verify_ssl: false}\n")
    ok, text = check(str(config), env={})
    assert not ok
    assert text.splitlines()[0] == f"{config}: providers.acme.api-kee: unknown key (did you mean 'api_key'?)"
    assert text.splitlines()[1].startswith(f"{config}: providers.acme.verify_ssl: unknown key")


def test_every_registered_dialect_has_its_catalog_entry() -> None:
    """A new adapter in providers/registry.py needs its entry in core/catalog/dialects.py (parameters,
    base_url form, options), or configs that use it are refused as an unknown dialect."""
    from turnout.providers.registry import http_adapters

    assert set(http_adapters()) | {"local"} <= set(DIALECTS)


def test_bad_settings_and_bad_providers_are_reported_together(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("colour: blue\nproviders:\n  acme: {dialect: openai, base_url: 'http://h:1', api-kee: x}\n")
    ok, text = check(str(config), env={})
    assert not ok and [line.split(": ", 2)[1] for line in text.splitlines()] == ["colour", "providers.acme.api-kee"]
