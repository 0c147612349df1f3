"""Model variants for the pages: catalog entries of their own (`z-ai/glm-4.6:exacto`) and the
router's suffixes applied to a base model (`:free`, `:floor`, `:nitro`, `:thinking`, `:online`).

A suffix variant's page is its base model narrowed to what the suffix means, built here as a
derived `Model`; routing itself stays in core/routing/router.py.
"""

from __future__ import annotations

from dataclasses import replace

from turnout.core.catalog.catalog import Catalog, Model

# suffix -> what it does, as the page says it (core/routing/router.py gives them their meaning)
SUFFIXES = {
    "free": "Free variant: routed only to the endpoints that charge nothing.",
    "floor": "Floor variant: endpoints tried cheapest first.",
    "nitro": "Nitro variant: endpoints tried fastest first (highest measured throughput).",
    "thinking": "Thinking variant: reasoning turned on unless the request says otherwise.",
    "online": "Online variant: web search on for every request.",
}


def suffix_variant(catalog: Catalog, model_id: str) -> Model | None:
    """The page model for `base:suffix` when the catalog has no entry of its own for it."""
    base_id, _, suffix = model_id.rpartition(":")
    base = catalog.get(base_id)
    if base is None or suffix not in applicable(base):
        return None
    endpoints = list(base.endpoints)
    if suffix == "free":
        endpoints = [e for e in endpoints if e.pricing.is_free]
    elif suffix == "floor":
        endpoints.sort(key=lambda e: e.pricing.prompt + e.pricing.completion)
    return replace(
        base, id=model_id, name=f"{base.name} ({suffix})", endpoints=endpoints,
        description=f"{SUFFIXES[suffix]} {base.description}", rendered=None,
    )


def applicable(base: Model) -> list[str]:
    """The suffixes that change something for this model."""
    out: list[str] = []
    if base.kind != "chat":
        return out
    if any(e.pricing.is_free for e in base.endpoints):
        out.append("free")
    if len(base.endpoints) > 1:
        out += ["floor", "nitro"]
    if "reasoning" in base.supported_parameters:
        out.append("thinking")
    return out


def variants_of(catalog: Catalog, model: Model) -> tuple[Model | None, list[str]]:
    """(the base model when `model` is a variant, the ids of the base's variants)."""
    base_id = model.id.split(":", 1)[0]
    base = catalog.get(base_id) if base_id != model.id else None
    own = [mid for mid in catalog.models if mid.split(":", 1)[0] == base_id and ":" in mid]
    root = base or catalog.get(base_id)
    suffixed = [f"{base_id}:{s}" for s in applicable(root) if f"{base_id}:{s}" not in own] if root else []
    return base, own + suffixed
