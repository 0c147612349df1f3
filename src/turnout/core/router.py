"""Routing: a model id and the request's needs -> the ordered endpoints to try.

Endpoints that cannot take the request are excluded before any call, and the exclusions are kept
so an error can say why nothing was left. Issue #7 grows this into OpenRouter's full routing
(provider preferences, variants, price-weighted choice, health).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from turnout.core.catalog import Catalog, Endpoint, Model
from turnout.model.chat import ChatRequest
from turnout.model.errors import ErrorKind, GatewayError


@dataclass(slots=True)
class Route:
    model: Model
    endpoints: list[Endpoint]
    excluded: list[dict[str, Any]] = field(default_factory=list)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """A cheap upper-ish estimate (4 characters a token) for context-length checks and fallbacks."""
    chars = sum(len(m.text()) for m in request.messages)
    return chars // 4 + 4 * len(request.messages)


class Router:
    def __init__(self, catalog: Catalog, availability: Callable[[Endpoint], tuple[bool, str | None]]) -> None:
        self._catalog = catalog
        self._availability = availability

    def resolve(self, request: ChatRequest, kind: str = "chat") -> Route:
        model = self._catalog.get(request.model)
        if model is None:
            raise GatewayError(
                ErrorKind.CALLER_MODEL_UNKNOWN,
                f"{request.model} is not a valid model ID",
                param="model",
                metadata={"param": "model"},
            )
        if model.kind != kind:
            raise GatewayError(
                ErrorKind.CALLER_INVALID_REQUEST,
                f"{model.id} is an {model.kind} model and cannot serve this request",
                param="model",
            )
        needs_images = request.has_images()
        needs_tools = bool(request.tools)
        prompt = estimate_prompt_tokens(request)
        wanted = prompt + (request.max_tokens or 0)
        route = Route(model, [])
        unavailable = 0
        for ep in model.endpoints:
            ok, why = self._availability(ep)
            reason = None
            if not ok:
                reason, unavailable = why or "unavailable", unavailable + 1
            elif needs_images and "image" not in ep.input_modalities:
                reason = "does not accept image input"
            elif needs_tools and "tools" not in ep.supported_parameters:
                reason = "does not support tool use"
            elif wanted > ep.context_length:
                reason = f"context length {ep.context_length} is below the request's ~{wanted} tokens"
            if reason is None:
                route.endpoints.append(ep)
            else:
                route.excluded.append({"provider": ep.provider.slug, "reason": reason})
        if not route.endpoints:
            detail = "; ".join(f"{x['provider']}: {x['reason']}" for x in route.excluded)
            all_down = unavailable == len(model.endpoints)
            raise GatewayError(
                ErrorKind.ROUTING_UNAVAILABLE if all_down else ErrorKind.ROUTING_NO_ENDPOINT,
                f"No endpoints available for {model.id}: {detail}",
                metadata={"excluded": route.excluded},
            )
        order = (request.provider or {}).get("order")
        if isinstance(order, list) and order:
            rank = {slug: i for i, slug in enumerate(order)}
            route.endpoints.sort(key=lambda e: rank.get(e.provider.slug, len(rank)))
        else:
            route.endpoints.sort(key=lambda e: e.pricing.prompt + e.pricing.completion)
        return route
