"""Grammar-constrained output: JSON mode, JSON Schema and tool calls.

Structured output never comes from parsing free text. The runtime (llama.cpp built with
LLGuidance, via xllamacpp) masks every sampled token so the output can only be a prefix
of a string the grammar accepts:

* ``response_format`` ``json_object`` -> any JSON object; ``json_schema`` -> that schema.
* tools with ``tool_choice`` ``required`` (or a named function) -> exactly one object
  ``{"name": <one of the tool names>, "arguments": <that tool's parameters schema>}``.
* tools with ``tool_choice`` ``auto`` -> a Lark grammar: that JSON object, *or* plain text
  that does not start with ``{``. The first token decides, and the output is classified by
  the grammar branch it took, never guessed from text.

A 270M model left unbounded can write digits or string characters forever, and invents
extra keys; to keep its JSON finite and on-topic, :func:`bound_schema` adds ``maxLength``
to free strings, a ±10^12 range to unbounded integers and ``additionalProperties: false``
to objects that list their ``properties`` without saying. Every output it allows still
validates against the caller's schema.
The JSON is written compactly (``", "``/``": "`` separators, no newlines).

LLGuidance does not reject a broken schema up front: the runtime logs the error and the
request then runs unconstrained. :func:`validate_schema` therefore checks the schema's
structure before a request is sent, and the engine checks that a finished output parses.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import LocalBadRequestError

__all__ = [
    "DEFAULT_INT_BOUND",
    "DEFAULT_MAX_STRING",
    "Constraint",
    "ToolCall",
    "bound_schema",
    "constraint_for",
    "parse_tool_call",
    "tool_call_schema",
    "validate_schema",
]

DEFAULT_MAX_STRING = 256
DEFAULT_INT_BOUND = 10**12 - 1
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_COMPACT = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}


@dataclass(frozen=True)
class Constraint:
    """What the runtime is asked to enforce for one request.

    ``kind`` is ``"json_schema"`` (``value`` is a schema dict) or ``"grammar"`` (``value``
    is an LLGuidance Lark grammar string). ``mode`` tells how to read the output back:
    ``"json"`` (a JSON value), ``"tool"`` (a tool call) or ``"tool_or_text"``.
    """

    kind: Literal["json_schema", "grammar"]
    value: Any
    mode: Literal["json", "tool", "tool_or_text"]


@dataclass(frozen=True)
class ToolCall:
    """A tool call read from grammar-constrained output."""

    name: str
    arguments: dict[str, Any]

    def arguments_json(self) -> str:
        """The arguments as a compact JSON string (the OpenAI wire form)."""
        return json.dumps(self.arguments, ensure_ascii=False)


def validate_schema(schema: Any, path: str = "$") -> None:
    """Raise :class:`LocalBadRequestError` when ``schema`` is not a structurally valid JSON Schema."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise LocalBadRequestError(
            f"invalid JSON schema at {path}: expected an object or a boolean", code="invalid_schema"
        )
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        for k in kinds:
            if k not in _TYPES:
                raise LocalBadRequestError(f"invalid JSON schema at {path}: unknown type {k!r}", code="invalid_schema")
    for key in _SCHEMA_LISTS:
        if key in schema:
            items = schema[key]
            if not isinstance(items, list) or (key != "prefixItems" and not items):
                raise LocalBadRequestError(
                    f"invalid JSON schema at {path}.{key}: expected a non-empty list", code="invalid_schema"
                )
            for i, sub in enumerate(items):
                validate_schema(sub, f"{path}.{key}[{i}]")
    for key in _SCHEMA_MAPS:
        if key in schema:
            props = schema[key]
            if not isinstance(props, Mapping):
                raise LocalBadRequestError(
                    f"invalid JSON schema at {path}.{key}: expected an object", code="invalid_schema"
                )
            for name, sub in props.items():
                validate_schema(sub, f"{path}.{key}.{name}")
    for key in _SCHEMA_ONE:
        if key in schema:
            validate_schema(schema[key], f"{path}.{key}")
    if "required" in schema:
        req = schema["required"]
        if not isinstance(req, list) or not all(isinstance(r, str) for r in req):
            raise LocalBadRequestError(
                f"invalid JSON schema at {path}.required: expected a list of strings", code="invalid_schema"
            )
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise LocalBadRequestError(f"invalid JSON schema at {path}.enum: expected a list", code="invalid_schema")
    ref = schema.get("$ref")
    if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
        raise LocalBadRequestError(
            f"invalid JSON schema at {path}.$ref: only local references (#...) are supported", code="invalid_schema"
        )


def _bound(node: Any, max_string: int, int_bound: int) -> Any:
    if isinstance(node, list):
        return [_bound(x, max_string, int_bound) for x in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _bound(v, max_string, int_bound) if k not in ("enum", "const", "default", "examples") else v
        for k, v in node.items()
    }
    kinds = out.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    free = not any(k in out for k in ("enum", "const"))
    if free and "string" in kinds and not any(k in out for k in ("maxLength", "pattern", "format")):
        out["maxLength"] = max_string
    if isinstance(out.get("properties"), dict) and "additionalProperties" not in out and "patternProperties" not in out:
        out["additionalProperties"] = False
    if free and "integer" in kinds:
        if not any(k in out for k in ("minimum", "exclusiveMinimum")):
            out["minimum"] = -int_bound
        if not any(k in out for k in ("maximum", "exclusiveMaximum")):
            out["maximum"] = int_bound
    return out


def bound_schema(schema: Any, *, max_string: int = DEFAULT_MAX_STRING, int_bound: int = DEFAULT_INT_BOUND) -> Any:
    """Return a copy of ``schema`` whose free strings and integers are bounded (see module doc)."""
    return _bound(copy.deepcopy(schema), max_string, int_bound)


def _compact(schema: Any) -> dict[str, Any]:
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    out = dict(schema)
    out["x-guidance"] = dict(_COMPACT)
    return out


def _tool_fields(tool: Mapping[str, Any]) -> tuple[str, Any]:
    fn = tool.get("function", tool)
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise LocalBadRequestError("every tool needs a function name")
    params = fn.get("parameters")
    if params is None:
        params = {"type": "object"}
    validate_schema(params, f"tools[{name}].parameters")
    return name, params


def tool_call_schema(tools: Sequence[Mapping[str, Any]], only: str | None = None) -> dict[str, Any]:
    """The schema of one call ``{"name": ..., "arguments": {...}}`` to one of ``tools`` (or to ``only``)."""
    branches = []
    for tool in tools:
        name, params = _tool_fields(tool)
        if only is not None and name != only:
            continue
        branches.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": bound_schema(params)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if not branches:
        raise LocalBadRequestError(f"tool_choice names a function that is not in tools: {only!r}")
    schema: dict[str, Any] = branches[0] if len(branches) == 1 else {"anyOf": branches}
    return _compact(schema)


# Plain text for the "auto" branch: no leading "{" (that starts a call) and no control
# characters, so the branch taken is unambiguous.
_TEXT_RULE = r"/[ ]?[^{\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b-\x1f\x7f-\x9f]*/"


def constraint_for(
    *,
    response_format: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
) -> Constraint | None:
    """Choose the grammar for a request, or ``None`` for unconstrained text.

    ``tool_choice`` follows OpenAI: ``"none"``, ``"auto"`` (the default when tools are
    given), ``"required"``, or ``{"type": "function", "function": {"name": ...}}``. Tools
    take precedence over ``response_format`` unless ``tool_choice`` is ``"none"``.
    """
    if tools and tool_choice != "none":
        if isinstance(tool_choice, Mapping):
            fn = tool_choice.get("function", tool_choice)
            only = fn.get("name") if isinstance(fn, Mapping) else None
            if not isinstance(only, str):
                raise LocalBadRequestError("tool_choice must name a function")
            return Constraint("json_schema", tool_call_schema(tools, only), "tool")
        if tool_choice == "required":
            return Constraint("json_schema", tool_call_schema(tools), "tool")
        if tool_choice in (None, "auto"):
            call = json.dumps(tool_call_schema(tools), ensure_ascii=False)
            lark = f"%llguidance {{}}\nstart: call | text\ncall: %json {call}\ntext: {_TEXT_RULE}\n"
            return Constraint("grammar", lark, "tool_or_text")
        raise LocalBadRequestError(f"unsupported tool_choice: {tool_choice!r}")
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        schema = response_format.get("schema") or {"type": "object"}
        validate_schema(schema)
        return Constraint("json_schema", _compact(bound_schema(schema)), "json")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if schema is None:
            schema = response_format.get("schema")
        if schema is None:
            raise LocalBadRequestError("response_format json_schema needs a schema", code="invalid_schema")
        validate_schema(schema)
        return Constraint("json_schema", _compact(bound_schema(schema)), "json")
    raise LocalBadRequestError(f"unsupported response_format type: {kind!r}")


def parse_tool_call(text: str, tools: Sequence[Mapping[str, Any]]) -> ToolCall | None:
    """Read a tool call from constrained output; ``None`` when the text took the plain-text branch.

    A malformed call (only possible when ``max_tokens`` cut the output) also gives ``None``,
    and the caller reports the text as it came.
    """
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        obj = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    args = obj.get("arguments", {})
    names = {_tool_fields(t)[0] for t in tools}
    if not isinstance(name, str) or name not in names or not isinstance(args, dict):
        return None
    return ToolCall(name=name, arguments=args)
