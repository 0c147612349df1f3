"""The `response-healing` plugin: a JSON answer that does not parse is repaired, when it can be.

Only for non-streamed requests asking for `json_object` or `json_schema`. A reply that already
parses (and fits the schema) is left alone. Otherwise the JSON is taken out of markdown fences and
leading prose and repaired with the json-repair library (trailing commas, unquoted keys, single
quotes, missing brackets), then checked against the schema with jsonschema. A repair that does
not parse or does not fit the schema is not used: the reply goes back as it came, and the
generation record says so. A reply cut by `max_tokens` is not guessed at either.
"""

from __future__ import annotations

import json
import re
from typing import Any

from turnout.model.chat import JSON, ResponseFormat

FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
MAX_CHARS = 1_000_000


def _fits(value: Any, schema: JSON | None) -> str | None:
    """Why the value does not fit the schema, or None."""
    if schema is None:
        return None if isinstance(value, dict | list) else "not a JSON object"
    import jsonschema  # only a healed reply pays for it

    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except jsonschema.exceptions.SchemaError:
        return None  # the upstream accepted the schema; turnout does not judge it
    return None if error is None else error.message[:200]


def heal(text: str, rf: ResponseFormat, finish_reason: str) -> tuple[str, JSON]:
    """(the reply to send, the record of what was done)."""
    schema = rf.schema if rf.type == "json_schema" else None
    try:
        value = json.loads(text)
        if _fits(value, schema) is None:
            return text, {"healed": False, "valid": True}
    except ValueError:
        pass
    if finish_reason == "length":
        return text, {"healed": False, "valid": False, "reason": "cut by max_tokens"}
    if len(text) > MAX_CHARS:
        return text, {"healed": False, "valid": False, "reason": "too long to repair"}
    import json_repair

    fenced = FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = min((i for i in (candidate.find("{"), candidate.find("[")) if i >= 0), default=-1)
    if start < 0:
        return text, {"healed": False, "valid": False, "reason": "no JSON in the reply"}
    repaired = json_repair.repair_json(candidate[start:], return_objects=True)
    if repaired in ("", None) or not isinstance(repaired, dict | list):
        return text, {"healed": False, "valid": False, "reason": "unrepairable"}
    why = _fits(repaired, schema)
    if why is not None:
        return text, {"healed": False, "valid": False, "reason": f"repaired JSON does not fit the schema: {why}"}
    return json.dumps(repaired, ensure_ascii=False), {"healed": True, "valid": True}
