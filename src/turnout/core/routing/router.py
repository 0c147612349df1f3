"""Routing like OpenRouter: a model id (with variant) and provider preferences -> endpoints to try.

Order of work for one model:
1. resolve the id: a catalog entry (variants such as `z-ai/glm-4.6:exacto` may have their own),
   else the base model plus the variant's meaning (`:free`, `:nitro`, `:floor`, `:exacto`,
   `:thinking`, `:online`);
2. exclude endpoints that cannot or may not take the request, keeping the reason for each
   (unavailable, circuit open, modality, tools, context length, max_tokens, require_parameters,
   data policy, zdr, only/ignore, quantization, max_price);
3. order the rest: `provider.order` first if given; `provider.sort` (price, throughput, latency);
   otherwise OpenRouter's default: among endpoints without a failure in the last 30 s, a random
   pick weighted by the inverse square of the price, repeated for the fallbacks, then the ones
   that failed recently.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from turnout.core.catalog.catalog import Catalog, Endpoint, Model
from turnout.core.money.bounds import MAX_ID, clip
from turnout.core.money.byok import ByokBook
from turnout.core.money.estimate import estimate_prompt
from turnout.core.routing.health import HealthTracker
from turnout.model.chat import ChatRequest, Reasoning
from turnout.model.errors import ErrorKind, GatewayError, invalid

VARIANTS = frozenset({"free", "nitro", "floor", "exacto", "thinking", "online", "extended"})
SORTS = frozenset({"price", "throughput", "latency"})
MILLION = Decimal(1_000_000)
TINY_PRICE = 1e-12  # free endpoints: a finite, overwhelming weight


@dataclass(slots=True)
class Route:
    model: Model
    endpoints: list[Endpoint]
    reason: str
    excluded: list[dict[str, Any]] = field(default_factory=list)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """The prompt's likely size over everything sent upstream (core/money/estimate.py), for context-length
    checks and usage fallbacks; the gateway computes it once per request and passes it to `resolve`."""
    return estimate_prompt(request).typical


def price_of(e: Endpoint) -> Decimal:
    return e.pricing.prompt + e.pricing.completion


def model_chain(request: ChatRequest) -> list[str]:
    """`model` first, then `models` in order, without repeats (OpenRouter's model fallbacks)."""
    chain = [request.model]
    for m in request.models or ():
        if m not in chain:
            chain.append(m)
    return chain


class Router:
    def __init__(
        self,
        catalog: Catalog,
        availability: Callable[[Endpoint], tuple[bool, str | None]],
        health: HealthTracker,
        rng: random.Random | None = None,
    ) -> None:
        self._catalog = catalog
        self._availability = availability
        self._health = health
        self._rng = rng or random.Random()
        self.byok: ByokBook | None = None  # accounts' own provider keys (core/money/byok.py), set by the runtime

    def lookup(self, model_id: str, kind: str = "chat") -> tuple[Model, str | None]:
        """The catalog model for an id, and the variant still to apply (None if the id had none
        or the catalog has an entry of its own for it)."""
        model = self._catalog.get(model_id)
        variant = None
        if model is None and model_id.startswith("~"):  # ~author/family-latest
            model = self._catalog.latest(model_id)
        if model is None and ":" in model_id:
            base, _, variant = model_id.rpartition(":")
            if variant in VARIANTS:
                model = self._catalog.get(base)
        if model is None:
            raise GatewayError(
                ErrorKind.CALLER_MODEL_UNKNOWN, f"{clip(model_id, MAX_ID)} is not a valid model ID", param="model",
                metadata={"param": "model"},
            )
        if model.kind != kind:
            raise invalid("model", f"{model.id} is an {model.kind} model and cannot serve this request")
        return model, variant

    def resolve(self, request: ChatRequest, model_id: str | None = None, kind: str = "chat",
                prompt_tokens: int | None = None, owner: tuple[str, str] | None = None,
                prefs: Preferences | None = None) -> Route:
        """The endpoints to try; `prompt_tokens` is the prompt's likely size, when already known;
        `owner` (account, API key hash) brings in the account's own provider keys (core/money/byok.py);
        `prefs` are the request's provider preferences, parsed by the api (none: the defaults)."""
        model, variant = self.lookup(model_id or request.model, kind)
        prefs = Preferences() if prefs is None else prefs
        if variant == "thinking" and request.reasoning is None:
            request.reasoning = Reasoning(enabled=True)
        if variant == "online":
            plugins = list(request.plugins or [])
            if not any(p.get("id") == "web" for p in plugins):
                plugins.append({"id": "web"})
            request.plugins = plugins
        sort = prefs.sort or {"nitro": "throughput", "floor": "price"}.get(variant or "")

        candidates = model.endpoints
        if variant == "exacto" and any(e.exacto for e in candidates):
            candidates = [e for e in candidates if e.exacto]
        byok = self.byok if owner is not None and self.byok is not None and self.byok.holds(owner[0]) else None
        if byok is not None and owner is not None:
            candidates = byok.candidates(owner[0], owner[1], model.id, candidates)
        route = Route(model, [], "")
        needs = self._needs(request, prompt_tokens)
        unavailable = 0
        for e in candidates:
            why = self._exclusion(e, request, prefs, variant, needs)
            if why is None:
                route.endpoints.append(e)
            else:
                route.excluded.append({"provider": e.provider.slug, "reason": why[1], "excluded_by": why[0]})
                unavailable += why[0] in ("unavailable", "health")
        if not route.endpoints:
            self._raise_nothing_left(model, route, candidates, all_down=unavailable == len(candidates))

        route.endpoints, route.reason = self._order(route.endpoints, prefs, sort, variant)
        if byok is not None and any(e.byok_id for e in route.endpoints):
            # the account's prioritized keys first (even ahead of provider.order), its fallback keys last
            route.endpoints.sort(key=byok.rank)
            if route.endpoints[0].byok_id is not None:
                route.reason = f"BYOK: the account's own {route.endpoints[0].provider.slug} key, then {route.reason}"
        if not prefs.allow_fallbacks:
            route.endpoints = route.endpoints[:1]
        self._health.claim_probe(route.endpoints[0].key)
        return route

    # -- exclusions ---------------------------------------------------------------------------

    def _needs(self, request: ChatRequest, prompt_tokens: int | None) -> dict[str, Any]:
        prompt = estimate_prompt_tokens(request) if prompt_tokens is None else prompt_tokens
        return {
            "images": request.has_images(),
            "tools": bool(request.tools),
            "tokens": prompt + (request.max_tokens or 0),
        }

    def _exclusion(
        self, e: Endpoint, request: ChatRequest, prefs: Preferences, variant: str | None, needs: dict[str, Any]
    ) -> tuple[str, str] | None:
        ok, why = self._availability(e)
        if not ok:
            return "unavailable", why or "unavailable"
        if (blocked := self._health.blocked(e.key)) is not None:
            return "health", blocked
        slug, name = e.provider.slug.lower(), e.provider.name.lower()
        if prefs.only is not None and slug not in prefs.only and name not in prefs.only:
            return "allowed_providers", "not in provider.only"
        if slug in prefs.ignore or name in prefs.ignore:
            return "allowed_providers", "in provider.ignore"
        if variant == "free" and not e.pricing.is_free:
            return "free", "not a free endpoint (:free)"
        if needs["images"] and "image" not in e.input_modalities:
            return "modality", "does not accept image input"
        if needs["tools"] and "tools" not in e.supported_parameters:
            return "require_parameters", "does not support tool use"
        if needs["tokens"] > e.context_length:
            return "context_length", f"context length {e.context_length} is below the request's ~{needs['tokens']} tokens"
        if request.max_tokens and e.max_completion_tokens and request.max_tokens > e.max_completion_tokens:
            return "context_length", f"max_tokens {request.max_tokens} is above its limit of {e.max_completion_tokens}"
        if prefs.require_parameters:
            if "params" not in needs:
                needs["params"] = request.used_parameters()
            missing = sorted(needs["params"] - e.supported_parameters)
            if missing:
                return "require_parameters", f"does not support {', '.join(missing)}"
        policy = e.provider.data_policy
        if prefs.data_collection == "deny" and (policy.get("training") or policy.get("retains_prompts")):
            return "data_policy:training", "may store or train on prompts (data_collection: deny)"
        if prefs.zdr and not policy.get("zdr"):
            return "data_policy:zdr", "not a zero-data-retention endpoint"
        if prefs.quantizations is not None and (e.quantization or "unknown") not in prefs.quantizations:
            return "quantization", f"quantization {e.quantization or 'unknown'} not in provider.quantizations"
        for field_name, limit in prefs.max_price.items():
            price = getattr(e.pricing, field_name)
            if field_name in ("prompt", "completion"):
                price = price * MILLION
            if price > limit:
                return "max_price", f"{field_name} price {price} is above max_price {limit}"
        return None

    def _raise_nothing_left(self, model: Model, route: Route, candidates: list[Endpoint], *, all_down: bool) -> None:
        detail = "; ".join(f"{x['provider']}: {x['reason']}" for x in route.excluded) or "no endpoints"
        kind = ErrorKind.ROUTING_UNAVAILABLE if all_down else ErrorKind.ROUTING_NO_ENDPOINT
        waits = [w for e in candidates if (w := self._health.retry_in(e.key)) is not None]
        retry_after = min((s for _, s in waits), default=None)
        if any(limited for limited, _ in waits):
            kind = ErrorKind.PROVIDER_RATE_LIMITED  # it could be served after a Retry-After cool-down: 429
        elif waits:
            kind = ErrorKind.ROUTING_UNAVAILABLE  # only open circuits stand in the way: 503
        raise GatewayError(
            kind,
            f"No endpoints available for {model.id}: {detail}",
            metadata={"excluded": route.excluded, "model": model.id},
            retry_after=retry_after,
        )

    # -- ordering -----------------------------------------------------------------------------

    def _order(
        self, endpoints: list[Endpoint], prefs: Preferences, sort: str | None, variant: str | None
    ) -> tuple[list[Endpoint], str]:
        if prefs.order:
            rank = {s: i for i, s in enumerate(prefs.order)}

            def position(e: Endpoint) -> int:
                return min(rank.get(e.provider.slug.lower(), len(rank)), rank.get(e.provider.name.lower(), len(rank)))

            ordered = sorted(endpoints, key=position)
            return ordered, "provider.order"
        if sort == "price":
            return sorted(endpoints, key=price_of), "sorted by price"
        if sort == "throughput":
            return sorted(endpoints, key=lambda e: -(self._health.p50_throughput(e.key) or 0.0)), "sorted by throughput"
        if sort == "latency":
            return sorted(endpoints, key=lambda e: self._health.p50_latency(e.key) or float("inf")), "sorted by latency"
        if variant == "exacto":
            ranked = sorted(endpoints, key=lambda e: -(self._health.success_rate(e.key) or 1.0))
            return ranked, "exacto: curated endpoints by success rate"
        if len(endpoints) == 1:
            return endpoints, "the only endpoint"
        stable = [e for e in endpoints if not self._health.recently_failed(e.key)]
        shaky = sorted((e for e in endpoints if self._health.recently_failed(e.key)), key=price_of)
        return self.weighted_order(stable) + shaky, "load balanced: weighted by 1/price² among stable endpoints"

    def weighted_order(self, endpoints: list[Endpoint]) -> list[Endpoint]:
        """Repeated weighted picks without replacement, weight = 1 / price²."""
        if len(endpoints) < 2:
            return list(endpoints)
        pool = list(endpoints)
        weights = [1.0 / max(float(price_of(e)), TINY_PRICE) ** 2 for e in pool]
        out: list[Endpoint] = []
        while pool:
            i = self._rng.choices(range(len(pool)), weights)[0] if len(pool) > 1 else 0
            out.append(pool.pop(i))
            weights.pop(i)
        return out


@dataclass(slots=True)
class Preferences:
    """The request's `provider` object, checked (api/preferences.py parses it): what the router honours."""

    order: list[str] | None = None
    allow_fallbacks: bool = True
    require_parameters: bool = False
    data_collection: str = "allow"
    zdr: bool = False
    only: set[str] | None = None
    ignore: set[str] = field(default_factory=set)
    quantizations: set[str] | None = None
    sort: str | None = None
    max_price: dict[str, Decimal] = field(default_factory=dict)
