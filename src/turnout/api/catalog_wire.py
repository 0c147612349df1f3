"""The catalog's public JSON: OpenRouter's `Model` (the `GET /models` entry), `PublicEndpoint`, and
the plain `GET /models` body, built once per form.

The catalog (core/catalog/) holds the facts; this module renders them for the catalog routes
(api/catalog.py, api/catalog_query.py). The catalog is immutable, so each model's wire form and
each plain body is built once and kept on it (`Model.rendered`, `Catalog.rendered`).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.catalog.catalog import Catalog, Endpoint, Model
from turnout.core.catalog.pricing import Pricing

MAX_BASES = 16  # `GET /models` bodies kept, one per public base URL
DETAILS = b'"links":{"details":"/'  # how every model's relative link starts in a built body
# OpenRouter's `ModelReasoning` for a model that takes `reasoning`: the efforts turnout's
# translators map for every reasoning dialect (docs/dialects.md), off unless asked for.
REASONING: dict[str, Any] = {"supported_efforts": ["high", "medium", "low", "minimal"], "default_effort": "medium",
                             "default_enabled": False, "mandatory": False}


def endpoint_wire(e: Endpoint) -> dict[str, Any]:
    """One entry of `GET /models/{author}/{slug}/endpoints`, OpenRouter's `PublicEndpoint` shape.

    Live figures (latency, throughput, uptime) are null here; the health tracker fills them in.
    """
    ok, why = e.provider.availability()
    tool_choice = "tool_choice" in e.supported_parameters
    return {
        "name": e.name,
        "model_id": e.model_id,
        "model_name": e.model_id,
        "provider_name": e.provider.name,
        "tag": e.provider.slug,
        "context_length": e.context_length,
        "pricing": e.pricing.to_wire(),
        "max_completion_tokens": e.max_completion_tokens,
        "max_prompt_tokens": None,
        "supported_parameters": sorted(e.supported_parameters),
        "quantization": e.quantization,
        "service_tier": None,
        "native_tools": {},
        "supports_diarization": False,
        "supports_implicit_caching": e.pricing.input_cache_read is not None,
        "supports_tool_choice": {"auto": tool_choice, "function": tool_choice, "none": tool_choice, "required": tool_choice},
        "status": 0 if ok else -1,
        "status_message": why,
        "latency_last_30m": None,
        "throughput_last_30m": None,
        "uptime_last_5m": None,
        "uptime_last_30m": None,
        "uptime_last_1d": None,
        "is_moderated": e.is_moderated,
    }


def model_wire(m: Model) -> dict[str, Any]:
    """The model on OpenRouter's model-list schema; built once, the catalog is immutable."""
    if m.rendered is not None:
        return m.rendered
    top = m.top_endpoint
    modality = "+".join(m.input_modalities) + "->" + "+".join(m.output_modalities)
    m.rendered = {
        "id": m.id,
        "canonical_slug": m.canonical_slug,
        "hugging_face_id": m.hugging_face_id,
        "name": m.name,
        "created": m.created,
        "description": m.description,
        "context_length": m.context_length,
        "architecture": {
            "modality": modality,
            "input_modalities": list(m.input_modalities),
            "output_modalities": list(m.output_modalities),
            "tokenizer": m.tokenizer,
            "instruct_type": m.instruct_type,
        },
        "pricing": top.pricing.to_wire() if top else Pricing().to_wire(),
        "top_provider": {
            "context_length": top.context_length if top else m.context_length,
            "max_completion_tokens": top.max_completion_tokens if top else None,
            "is_moderated": top.is_moderated if top else False,
        },
        "per_request_limits": m.per_request_limits,
        "supported_parameters": m.supported_parameters,
        "default_parameters": m.default_parameters,
        "supported_voices": None,
        "expiration_date": None,
        "knowledge_cutoff": m.knowledge_cutoff,
        **({"reasoning": REASONING} if "reasoning" in m.supported_parameters else {}),
        "links": {"details": f"/api/v1/models/{m.id.split(':')[0]}/endpoints"},
    }
    return m.rendered


def with_base(wire: dict[str, Any], base: str) -> dict[str, Any]:
    """A model's wire form with its `links.details` made absolute (a copy: the cached form stays relative)."""
    if not base:
        return wire
    return {**wire, "links": {"details": base + wire["links"]["details"]}}


def models_body(catalog: Catalog, everything: bool = False, base: str = "") -> bytes:
    """The plain `GET /models` answer (text-output models, as OpenRouter's default), built
    once per form: the catalog is immutable. `base` makes `links.details` absolute; the bodies
    of other bases than the first are made from the relative one by one replacement, and at
    most `MAX_BASES` are kept (the bases come from an allow-list, but "host" allows any port)."""
    bodies = catalog.rendered
    body = bodies.get((everything, base))
    if body is not None:
        return body
    plain = bodies.get((everything, ""))
    if plain is None:
        data = [model_wire(m) for m in catalog.listed(everything) if "text" in m.output_modalities]
        plain = bodies[(everything, "")] = orjson.dumps({"data": data, "total_count": len(data), "links": {"next": None}})
    if not base:
        return plain
    if len(bodies) > MAX_BASES:
        for form in [k for k in bodies if k[1]][: len(bodies) // 2]:
            del bodies[form]
    body = bodies[(everything, base)] = plain.replace(DETAILS, DETAILS[:-1] + orjson.dumps(base)[1:-1] + b"/")
    return body
