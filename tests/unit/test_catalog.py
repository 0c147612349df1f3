"""The built-in catalog carries the seed pages' figures; a config file adds and overrides."""

from __future__ import annotations

import pytest

from turnout.api.catalog_wire import model_wire
from turnout.core.catalog.catalog import CatalogError, build_catalog


def test_seed_models_and_figures() -> None:
    c = build_catalog(None, None, env={})
    glm46 = model_wire(c.models["z-ai/glm-4.6"])
    assert glm46["context_length"] == 202752
    assert glm46["pricing"]["prompt"] == "0.00000043" and glm46["pricing"]["completion"] == "0.00000174"
    assert model_wire(c.models["z-ai/glm-4.6:exacto"])["pricing"]["prompt"] == "0.0000006"
    v = model_wire(c.models["z-ai/glm-4.6v"])
    assert v["context_length"] == 131072 and v["architecture"]["input_modalities"] == ["text", "image"]
    assert v["pricing"]["completion"] == "0.0000009"
    g = model_wire(c.models["z-ai/glm-4.5v"])
    assert g["hugging_face_id"] == "zai-org/GLM-4.5V" and g["created"] == 1754922288
    assert g["top_provider"] == {"context_length": 65536, "max_completion_tokens": 16384, "is_moderated": False}
    assert g["pricing"] == {"prompt": "0.0000006", "completion": "0.0000018", "request": "0", "image": "0", "input_cache_read": "0.00000011"}
    assert g["supported_parameters"] == sorted([
        "frequency_penalty", "include_reasoning", "max_tokens", "presence_penalty", "reasoning", "repetition_penalty",
        "response_format", "seed", "stop", "structured_outputs", "temperature", "tool_choice", "tools", "top_k", "top_p"])
    assert g["default_parameters"] == {"temperature": 0.75, "top_p": None, "frequency_penalty": None}
    assert g["architecture"]["modality"] == "text+image->text"
    flash = c.models["z-ai/glm-4.6v-flash"]
    assert model_wire(flash)["top_provider"]["max_completion_tokens"] == 32768
    assert all(e.pricing.is_free for e in flash.endpoints)


def test_provider_without_key_is_unavailable_and_env_key_makes_it_available() -> None:
    assert build_catalog(None, None, env={}).providers["z-ai"].availability()[0] is False
    assert build_catalog(None, None, env={"ZAI_API_KEY": "k"}).providers["z-ai"].availability() == (True, None)


def test_config_example_adds_provider_and_model_with_env_key() -> None:
    providers = {"acme": {"dialect": "openai", "base_url": "http://127.0.0.1:9001/v1", "api_key": "${ACME_KEY}"}}
    models = {"acme/echo": {"name": "Acme Echo", "context_length": 8192, "endpoints": [
        {"provider": "acme", "model": "upstream-model-name", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}]}}
    c = build_catalog(providers, models, env={"ACME_KEY": "secret"})
    e = c.models["acme/echo"].endpoints[0]
    assert e.target.api_key == "secret" and e.target.upstream_model == "upstream-model-name"
    assert c.providers["acme"].availability() == (True, None)
    assert "z-ai/glm-4.6" in c.models  # the built-ins are still there


def test_config_overrides_builtin_provider_base_url() -> None:
    c = build_catalog({"z-ai": {"base_url": "http://127.0.0.1:1/v4", "api_key": "k"}}, None, env={})
    assert c.models["z-ai/glm-4.6"].endpoints[0].target.base_url == "http://127.0.0.1:1/v4"
    assert c.providers["z-ai"].dialect  # the rest of the built-in entry survives


@pytest.mark.parametrize(
    ("providers", "models", "message"),
    [
        ({"x": {"base_url": "http://h"}}, None, "providers.x.dialect"),
        (None, {"a/b": {"context_length": 1, "endpoints": [{"provider": "nope"}]}}, "unknown provider"),
        (None, {"a/b": {"endpoints": [{"provider": "z-ai"}]}}, "context_length"),
        (None, {"ab": {"context_length": 5, "endpoints": [{"provider": "z-ai"}]}}, "author/slug"),
    ],
)
def test_bad_config_names_the_setting(providers, models, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        build_catalog(providers, models, env={})


def test_upstream_limits_are_settings_and_must_be_positive() -> None:
    from turnout.core.upstream.transport import upstream_limits
    from turnout.settings import ConfigError, load_settings

    settings = load_settings(None, env={"TURNOUT_UPSTREAM_MAX_ANSWER_BYTES": "1000", "TURNOUT_UPSTREAM_MAX_SSE_LINE_BYTES": "77"})
    limits = upstream_limits(settings)
    assert limits.answer_bytes == 1000 and limits.sse_line_bytes == 77 and limits.error_bytes == 1 << 20
    try:
        load_settings(None, env={"TURNOUT_UPSTREAM_MAX_HEADERS": "0"})
    except ConfigError as exc:
        assert "upstream_max_headers must be a positive integer" in str(exc).lower()
    else:
        raise AssertionError("a zero limit was accepted")
