"""The model catalog: providers, models and their endpoints, built from data at start-up.

The built-in catalog (`turnout/catalog/builtin.yaml`) is loaded first; a config file adds
providers and models and overrides built-in providers' base URL or key. Everything here is
computed once; the request path only reads it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from turnout.catalog.dataset import Dataset
from turnout.core.catalog.catalog_schema import check_model, check_provider
from turnout.core.catalog.dialects import DialectError, dialect
from turnout.core.catalog.network import DEFAULT as DEFAULT_NETWORK
from turnout.core.catalog.network import Network, NetworkConfigError, network_of
from turnout.core.catalog.pricing import Pricing
from turnout.providers.base import Target
from turnout.providers.openai import QUIRKS
from turnout.providers.rules import DEFAULT_RULES, ParamRules, RuleBook, RulesError, parse_rules
from turnout.settings import Settings

log = logging.getLogger("turnout.catalog")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, env: dict[str, str]) -> str:
    return _ENV_REF.sub(lambda m: env.get(m.group(1), ""), value)


@dataclass(slots=True)
class Provider:
    slug: str
    name: str
    dialect: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    key_env: str | None = None  # the variable the key came from, else the first one to set
    requires_key: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    data_policy: dict[str, Any] = field(default_factory=dict)
    source: str = "builtin"  # builtin | config | models.dev:<id>
    parameters: frozenset[str] = frozenset()  # what its dialect carries: an endpoint's default
    network: Network = DEFAULT_NETWORK  # proxy, tls, max_connections (core/catalog/network.py)

    def availability(self) -> tuple[bool, str | None]:
        if self.requires_key and not self.api_key:
            where = f"set {self.key_env}" if self.key_env else f"set providers.{self.slug}.api_key"
            return False, f"provider {self.slug} has no API key ({where})"
        return True, None


@dataclass(slots=True)
class Endpoint:
    model_id: str
    provider: Provider
    upstream_model: str
    pricing: Pricing
    context_length: int
    max_completion_tokens: int | None
    supported_parameters: frozenset[str]
    input_modalities: tuple[str, ...]
    quantization: str | None = None
    is_moderated: bool = False
    exacto: bool = False  # in the curated subset that the `:exacto` variant routes to
    pricing_source: str | None = None  # where the prices came from (dataset endpoints)
    rules: ParamRules = DEFAULT_RULES  # what the model takes: parameter_rules, resolved at load (providers/rules.py)
    byok_id: str | None = None  # a copy of the endpoint carrying an account's own key (core/money/byok.py)
    target: Target = field(init=False)
    key: str = field(init=False)  # stable identity for health tracking

    def __post_init__(self) -> None:
        p = self.provider
        self.key = f"{p.slug}|{self.model_id}|{self.upstream_model}"
        if self.byok_id is not None:  # its own health and availability: the account's key is not ours
            self.key += f"|byok:{self.byok_id}"
        self.target = Target(
            provider=p.slug,
            provider_name=p.name,
            dialect=p.dialect,
            upstream_model=self.upstream_model,
            base_url=p.base_url,
            api_key=p.api_key,
            extra_headers=p.headers,
            options=p.options,
            rules=self.rules,
            network=p.network,
        )

    @property
    def name(self) -> str:
        return f"{self.provider.name} | {self.model_id}"



@dataclass(slots=True)
class Model:
    id: str
    name: str
    created: int
    description: str
    context_length: int
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    endpoints: list[Endpoint]
    canonical_slug: str
    hugging_face_id: str | None = None
    tokenizer: str = "Other"
    instruct_type: str | None = None
    default_parameters: dict[str, Any] | None = None
    per_request_limits: dict[str, Any] | None = None
    kind: str = "chat"  # chat | embedding
    declared_parameters: list[str] | None = None  # the model's own list, when the catalog gives one
    origin: str = "builtin"  # builtin (the seeds and local models) | dataset | config
    knowledge_cutoff: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # figure -> where it came from
    rendered: dict[str, Any] | None = field(default=None, repr=False)  # its wire form, once built (api/catalog_wire.py)

    @property
    def supported_parameters(self) -> list[str]:
        """The model-level list (as the catalog declares it), else the union of its endpoints'."""
        if self.declared_parameters is not None:
            return sorted(self.declared_parameters)
        names: set[str] = set()
        for e in self.endpoints:
            names |= e.supported_parameters
        return sorted(names)

    @property
    def top_endpoint(self) -> Endpoint | None:
        available = [e for e in self.endpoints if e.provider.availability()[0]]
        pool = available or self.endpoints
        return min(pool, key=lambda e: (e.pricing.prompt + e.pricing.completion)) if pool else None

_VERSION_TOKEN = re.compile(r"^(v?\d+(\.\d+)*[a-z]?|\d{4,8}|latest|preview|exp)$")


def family(model_id: str) -> str:
    """A model's family for `~author/family-latest`: its id without version and date tokens
    (`anthropic/claude-sonnet-4.6` -> `anthropic/claude-sonnet`, `google/gemini-2.5-pro` ->
    `google/gemini-pro`, `z-ai/glm-4.6` -> `z-ai/glm`)."""
    author, _, slug = model_id.split(":")[0].lower().partition("/")
    words = [w for w in slug.split("-") if w and not _VERSION_TOKEN.match(w)]
    return f"{author}/{'-'.join(words)}" if words else model_id.lower()


class Catalog:
    def __init__(self, providers: dict[str, Provider], models: dict[str, Model],
                 dataset: Dataset | None = None) -> None:
        self.providers = providers
        self.models = models
        self.dataset = dataset
        self.rendered: dict[tuple[bool, str], bytes] = {}  # `GET /models` bodies, once built (api/catalog_wire.py)
        self._families: dict[str, list[Model]] | None = None

    def listed(self, everything: bool = False) -> list[Model]:
        """`GET /models`' list: by default the built-in and configured models, and the dataset's
        models that have at least one available endpoint; `everything` lists every model."""
        if everything:
            return list(self.models.values())
        return [m for m in self.models.values()
                if m.origin != "dataset" or any(e.provider.availability()[0] for e in m.endpoints)]

    def latest(self, alias: str) -> Model | None:
        """`~author/family-latest`: the newest model of that family (by `created`), preferring one
        that an available endpoint serves; None when the family is unknown."""
        if not alias.startswith("~") or not alias.endswith("-latest"):
            return None
        wanted = alias[1:].removesuffix("-latest").lower()
        if self._families is None:
            families: dict[str, list[Model]] = {}
            for m in self.models.values():
                if ":" not in m.id and m.kind == "chat":
                    families.setdefault(family(m.id), []).append(m)
            self._families = families
        members = self._families.get(wanted)
        if not members:
            return None
        available = [m for m in members if any(e.provider.availability()[0] for e in m.endpoints)]
        return max(available or members, key=lambda m: (m.created, m.id))

    def get(self, model_id: str) -> Model | None:
        return self.models.get(model_id)


class CatalogError(ValueError):
    """The catalog data or a config file's providers/models section is invalid."""


def load_builtin() -> dict[str, Any]:
    text = resources.files("turnout.catalog").joinpath("builtin.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def build_catalog(
    config_providers: dict[str, Any] | None,
    config_models: dict[str, Any] | None,
    env: dict[str, str] | None = None,
    dataset: Dataset | None = None,
) -> Catalog:
    """The catalog from, lowest precedence first: the dataset (models.dev and genai-prices), the
    built-in entries (the seed models keep their exact figures: the dataset never adds to them),
    then the config file, which overrides anything."""
    env = dict(os.environ) if env is None else env
    builtin = load_builtin()
    raw_providers: dict[str, dict[str, Any]] = {}
    if dataset is not None:
        raw_providers.update((k, dict(v)) for k, v in dataset.providers.items())
    for slug, raw in builtin["providers"].items():
        merged = dict(raw)
        from_data = raw_providers.get(slug)
        if from_data is not None:  # a built-in provider also takes the key names the dataset knows
            merged["key_env"] = _env_names(raw.get("key_env")) + [
                n for n in _env_names(from_data.get("key_env")) if n not in _env_names(raw.get("key_env"))]
        raw_providers[slug] = merged
    errors: list[str] = []  # every unknown key or wrong type of the config, at once (one line each)
    for slug, override in (config_providers or {}).items():
        dialect_name = (override.get("dialect") if isinstance(override, dict) else None) or raw_providers.get(
            slug, {}).get("dialect")
        check_provider(slug, override, dialect_name, errors)
        if isinstance(override, dict):
            raw_providers.setdefault(slug, {"source": "config"}).update(override)
    raw_models: dict[str, tuple[str, dict[str, Any]]] = {}
    if dataset is not None:
        raw_models.update((mid, ("dataset", raw)) for mid, raw in dataset.models.items())
    raw_models.update((mid, ("builtin", raw)) for mid, raw in builtin["models"].items())
    for model_id, raw in (config_models or {}).items():
        check_model(model_id, raw, errors)
        if isinstance(raw, dict):
            raw_models[model_id] = ("config", raw)
    if errors:
        raise CatalogError("\n".join(errors))
    providers = {slug: _provider(slug, raw, env) for slug, raw in raw_providers.items()}
    try:
        rulebook = RuleBook.parse(builtin.get("parameter_rules"))
    except RulesError as exc:
        raise CatalogError(str(exc)) from None
    models = {mid: _model(mid, raw, providers, rulebook, origin) for mid, (origin, raw) in raw_models.items()}
    return Catalog(providers, models, dataset)


_last_built: list[tuple[Settings, dict[str, str], Catalog]] = []


def catalog_for(settings: Settings, env: dict[str, str] | None = None) -> Catalog:
    """The catalog a gateway with these settings serves (the dataset unless switched off).

    `turnout serve` builds it to fail fast on a bad config before it binds, then the app builds
    it again from the same settings: the second call gets the first's (immutable) catalog."""
    env = dict(os.environ) if env is None else env
    if _last_built and _last_built[0][0] == settings and _last_built[0][1] == env:
        return _last_built[0][2]
    dataset = None
    if settings.catalog_dataset:
        from turnout.catalog.dataset import load_dataset

        dataset = load_dataset()
    catalog = build_catalog(settings.providers, settings.models, env, dataset)
    if dataset is not None:
        dataset.release_raw()  # the built catalog has everything; keep only versions, dates, unsupported
    _last_built[:] = [(settings, env, catalog)]
    return catalog


def _env_names(value: Any) -> list[str]:
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _provider(slug: str, raw: dict[str, Any], env: dict[str, str]) -> Provider:
    where = f"providers.{slug}"
    for req in ("dialect", "base_url"):
        if not raw.get(req):
            raise CatalogError(f"{where}.{req} is required")
    try:
        spec = dialect(str(raw["dialect"]), f"{where}.dialect")
        options = dict(raw.get("options") or {})
        if "quirks" in options and options["quirks"] not in QUIRKS:
            raise CatalogError(f"{where}.options.quirks: unknown preset {options['quirks']!r}; one of {', '.join(QUIRKS)}")
        base_url = expand_env(str(raw["base_url"]), env)
        if not str(raw.get("source", "")).startswith("models.dev"):  # curated data keeps its exact URL
            base_url = spec.normalize_base_url(base_url, f"{where}.base_url")
    except DialectError as exc:
        raise CatalogError(str(exc)) from None
    try:
        proxy = raw.get("proxy")
        network = network_of(slug, {**raw, "proxy": expand_env(proxy, env)} if isinstance(proxy, str) else raw)
    except NetworkConfigError as exc:
        raise CatalogError(str(exc)) from None
    names = _env_names(raw.get("key_env"))
    api_key = raw.get("api_key")
    if isinstance(api_key, str):
        api_key = expand_env(api_key, env) or None
    key_env = names[0] if names else None
    if api_key is None:
        for name in names:  # the first of the provider's variables that is set
            if env.get(name):
                api_key, key_env = env[name], name
                break
    return Provider(
        slug=slug,
        name=str(raw.get("name") or slug),
        dialect=spec.name,
        base_url=base_url,
        api_key=api_key,
        key_env=key_env,
        requires_key=bool(raw.get("requires_key", True)),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        options=options,
        data_policy=dict(raw.get("data_policy") or {}),
        source=str(raw.get("source") or "builtin"),
        parameters=spec.parameters(options),
        network=network,
    )


_PARAMETER_SETS: dict[frozenset[str], frozenset[str]] = {}


def _interned(params: frozenset[str]) -> frozenset[str]:
    """One shared object per distinct parameter set: thousands of dataset endpoints share a few dozen."""
    return _PARAMETER_SETS.setdefault(params, params)



def _rules(e: dict[str, Any], provider: Provider, upstream_model: str, rulebook: RuleBook, where: str) -> ParamRules:
    """The built-in family rules for this upstream model, with the endpoint's own `parameter_rules` over them."""
    rules = rulebook.lookup(provider.dialect, upstream_model)
    own = e.get("parameter_rules")
    if own is None:
        return rules
    try:
        return parse_rules(own, f"{where}.parameter_rules", rules)
    except RulesError as exc:
        raise CatalogError(str(exc)) from None


def _model(model_id: str, raw: dict[str, Any], providers: dict[str, Provider], rulebook: RuleBook,
           origin: str = "builtin") -> Model:
    where = f"models.{model_id}"
    if "/" not in model_id:
        raise CatalogError(f"{where}: model ids are author/slug")
    context_length = int(raw.get("context_length") or 0)
    if context_length <= 0:
        raise CatalogError(f"{where}.context_length is required")
    inputs = tuple(raw.get("input_modalities") or ("text",))
    outputs = tuple(raw.get("output_modalities") or ("text",))
    model_params = raw.get("supported_parameters")
    endpoints = []
    for i, e in enumerate(raw.get("endpoints") or ()):
        ewhere = f"{where}.endpoints[{i}]"
        slug = e.get("provider")
        if slug not in providers:
            raise CatalogError(f"{ewhere}.provider: unknown provider {slug!r}")
        params = e.get("supported_parameters", model_params)
        upstream_model = str(e.get("model") or model_id)
        endpoints.append(
            Endpoint(
                model_id=model_id,
                provider=providers[slug],
                upstream_model=upstream_model,
                pricing=Pricing.parse(e.get("pricing", raw.get("pricing")), ewhere, e.get("pricing_tiers")),
                context_length=int(e.get("context_length") or context_length),
                max_completion_tokens=e.get("max_completion_tokens", raw.get("max_completion_tokens")),
                # Unless the catalog narrows it: what the provider's dialect carries.
                supported_parameters=_interned(frozenset(params)) if params is not None else providers[slug].parameters,
                input_modalities=tuple(e.get("input_modalities") or inputs),
                quantization=e.get("quantization"),
                is_moderated=bool(e.get("is_moderated", False)),
                exacto=bool(e.get("exacto", False)),
                pricing_source=e.get("pricing_source") or (None if origin == "dataset" else origin),
                rules=_rules(e, providers[slug], upstream_model, rulebook, ewhere),
            )
        )
    if not endpoints:
        raise CatalogError(f"{where}.endpoints: at least one endpoint is required")
    return Model(
        id=model_id,
        name=str(raw.get("name") or model_id),
        created=int(raw.get("created") or 0),  # 0: the gateway's store fills in when it first saw the model
        description=str(raw.get("description") or ""),
        context_length=context_length,
        input_modalities=inputs,
        output_modalities=outputs,
        endpoints=endpoints,
        canonical_slug=str(raw.get("canonical_slug") or model_id.split(":")[0]),
        hugging_face_id=raw.get("hugging_face_id"),
        tokenizer=str(raw.get("tokenizer") or "Other"),
        instruct_type=raw.get("instruct_type"),
        default_parameters=raw.get("default_parameters"),
        per_request_limits=raw.get("per_request_limits"),
        kind=str(raw.get("kind") or "chat"),
        declared_parameters=list(model_params) if model_params is not None and origin != "dataset" else None,
        origin=origin,
        knowledge_cutoff=raw.get("knowledge_cutoff"),
        sources=dict(raw.get("sources") or {"facts": origin}),
    )
