"""The keys a config file's `providers:` and `models:` sections may hold, as data.

Every mapping in those sections is checked against its table here before the catalog is built,
so a typo (`api-kee`) or a key turnout does not read (`verify_ssl`) is refused at start-up with
its path (`providers.acme.api-kee`) instead of being ignored. To add a provider or model field,
add it to the table (with the YAML types it accepts) and read it in core/catalog/catalog.py; a dialect's
`options` keys live with the dialect, in core/catalog/dialects.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from turnout.core.catalog.dialects import COMMON_OPTIONS, DIALECTS
from turnout.core.catalog.pricing import PRICE_FIELDS

Kind = type | tuple[type, ...]
NUMBER: tuple[type, ...] = (int, float, str)  # prices: decimal strings, as OpenRouter publishes them (numbers accepted)
NULLABLE_INT: Kind = (int, type(None))
NULLABLE_STR: Kind = (str, type(None))

# providers.<slug>
PROVIDER_FIELDS: Mapping[str, Kind] = {
    "name": str,  # display name ("Z.ai")
    "dialect": str,  # a key of core/dialects.DIALECTS
    "base_url": str,
    "api_key": NULLABLE_STR,  # a literal or ${ENV_VAR}
    "key_env": (str, list, type(None)),  # the environment variable(s) holding the key: the first one set
    "requires_key": bool,
    "headers": dict,  # sent with every request to this provider
    "options": dict,  # dialect knobs: checked against the dialect's own table
    "data_policy": dict,
    # Networking (docs/networking.md): checked in detail by core/catalog/network.py
    "proxy": (str, bool, type(None)),  # a proxy URL, or false for a direct connection
    "tls": dict,  # ca_file, client_cert, client_key, verify
    "max_connections": int,
}

# providers.<slug>.data_policy
DATA_POLICY_FIELDS: Mapping[str, Kind] = {"training": bool, "retains_prompts": bool, "zdr": bool}

# models.<author/slug>
MODEL_FIELDS: Mapping[str, Kind] = {
    "name": str,
    "created": (int, float),  # Unix time; else the time the model first appeared in this gateway
    "description": str,
    "kind": str,  # chat | embedding
    "context_length": int,
    "max_completion_tokens": NULLABLE_INT,
    "input_modalities": list,
    "output_modalities": list,
    "supported_parameters": list,  # else what its endpoints' dialects carry
    "pricing": dict,  # the default for endpoints that give none
    "endpoints": list,
    "canonical_slug": str,
    "hugging_face_id": NULLABLE_STR,
    "tokenizer": str,
    "instruct_type": NULLABLE_STR,
    "default_parameters": (dict, type(None)),
    "per_request_limits": (dict, type(None)),
    "knowledge_cutoff": NULLABLE_STR,
}

# models.<id>.endpoints[i]
ENDPOINT_FIELDS: Mapping[str, Kind] = {
    "provider": str,
    "model": str,  # the upstream's model name
    "pricing": dict,
    "context_length": int,
    "max_completion_tokens": NULLABLE_INT,
    "supported_parameters": list,  # narrows (or, for openai, widens) what the dialect carries
    "input_modalities": list,
    "quantization": NULLABLE_STR,
    "is_moderated": bool,
    "exacto": bool,
    "parameter_rules": dict,  # over the built-in family rules (providers/rules.py): sampling, thinking
    "pricing_tiers": list,  # [{above: <prompt tokens>, prompt: ..., completion: ...}]: a longer prompt pays these rates
}

PRICING_FIELDS: Mapping[str, Kind] = {name: (*NUMBER, type(None)) for name in PRICE_FIELDS}


def _kind_name(kind: Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
             list: "a list", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def check_mapping(raw: Any, table: Mapping[str, Kind], where: str, errors: list[str]) -> dict[str, Any]:
    """Append one message per unknown key or wrong type to `errors`; returns the mapping (or {})."""
    if not isinstance(raw, dict):
        errors.append(f"{where} must be a mapping")
        return {}
    for key, value in raw.items():
        path = f"{where}.{key}"
        kind = table.get(str(key))
        if kind is None:
            close = difflib.get_close_matches(str(key).replace("-", "_"), list(table), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known here: {', '.join(sorted(table)) or 'none'}"
            errors.append(f"{path}: unknown key ({hint})")
        elif not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            errors.append(f"{path} must be {_kind_name(kind)}, got {type(value).__name__}")
    return raw


def _tuple(kind: Kind) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_provider(slug: str, raw: Any, dialect_name: str | None, errors: list[str]) -> None:
    where = f"providers.{slug}"
    raw = check_mapping(raw, PROVIDER_FIELDS, where, errors)
    if isinstance(raw.get("data_policy"), dict):
        check_mapping(raw["data_policy"], DATA_POLICY_FIELDS, f"{where}.data_policy", errors)
    options = raw.get("options")
    known = DIALECTS.get(dialect_name or "")
    if isinstance(options, dict) and known is not None:
        check_mapping(options, {**COMMON_OPTIONS, **known.options}, f"{where}.options", errors)


def check_model(model_id: str, raw: Any, errors: list[str]) -> None:
    where = f"models.{model_id}"
    raw = check_mapping(raw, MODEL_FIELDS, where, errors)
    if isinstance(raw.get("pricing"), dict):
        check_mapping(raw["pricing"], PRICING_FIELDS, f"{where}.pricing", errors)
    for i, endpoint in enumerate(raw.get("endpoints") or () if isinstance(raw.get("endpoints"), list) else ()):
        ewhere = f"{where}.endpoints[{i}]"
        endpoint = check_mapping(endpoint, ENDPOINT_FIELDS, ewhere, errors)
        if isinstance(endpoint.get("pricing"), dict):
            check_mapping(endpoint["pricing"], PRICING_FIELDS, f"{ewhere}.pricing", errors)
