"""Schema checks, bounds and the grammar chosen for each request shape; no runtime needed."""

from __future__ import annotations

import json

import pytest

from turnout.local.errors import LocalBadRequestError
from turnout.local.grammar import DEFAULT_INT_BOUND, bound_schema, constraint_for, parse_tool_call, validate_schema

TOOLS = [
    {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    {
        "name": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
    },
]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "bogus"},
        {"properties": []},
        {"anyOf": []},
        {"required": "x"},
        {"$ref": "http://x/y"},
        3,
        {"items": {"type": 1}},
    ],
)
def test_invalid_schemas_are_rejected(schema: object) -> None:
    with pytest.raises(LocalBadRequestError):
        validate_schema(schema)


def test_bound_schema_adds_limits_without_touching_the_original() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "p": {"type": "string", "pattern": "^a+$"},
            "i": {"type": "integer", "minimum": 0},
            "e": {"type": "string", "enum": ["x"]},
        },
    }
    out = bound_schema(schema)
    props = out["properties"]
    assert props["s"]["maxLength"] > 0 and "maxLength" not in props["p"] and "maxLength" not in props["e"]
    assert props["i"] == {"type": "integer", "minimum": 0, "maximum": DEFAULT_INT_BOUND}
    assert out["additionalProperties"] is False
    assert "maxLength" not in schema["properties"]["s"] and "additionalProperties" not in schema


def test_constraint_choice() -> None:
    assert constraint_for() is None
    assert constraint_for(response_format={"type": "text"}) is None
    js = constraint_for(response_format={"type": "json_object"})
    assert js is not None and js.kind == "json_schema" and js.mode == "json" and js.value["type"] == "object"
    assert js.value["x-guidance"]["whitespace_flexible"] is False
    sch = constraint_for(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}
    )
    assert sch is not None and sch.value["type"] == "array"
    req = constraint_for(tools=TOOLS, tool_choice="required")
    assert req is not None and req.mode == "tool" and len(req.value["anyOf"]) == 2
    one = constraint_for(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "add"}})
    assert one is not None and one.value["properties"]["name"] == {"const": "add"}
    auto = constraint_for(tools=TOOLS)
    assert auto is not None and auto.kind == "grammar" and auto.mode == "tool_or_text"
    assert auto.value.startswith("%llguidance {}\nstart: call | text\n")
    assert constraint_for(tools=TOOLS, tool_choice="none") is None
    with pytest.raises(LocalBadRequestError):
        constraint_for(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}})
    with pytest.raises(LocalBadRequestError):
        constraint_for(response_format={"type": "json_schema", "json_schema": {"schema": {"type": "bogus"}}})


def test_parse_tool_call() -> None:
    call = parse_tool_call('{"name": "add", "arguments": {"a": 1, "b": 2}}', TOOLS)
    assert call is not None and call.name == "add" and call.arguments == {"a": 1, "b": 2}
    assert json.loads(call.arguments_json()) == {"a": 1, "b": 2}
    assert parse_tool_call("Paris.", TOOLS) is None
    assert parse_tool_call('{"name": "other", "arguments": {}}', TOOLS) is None
    assert parse_tool_call('{"name": "add", "arguments": {"a": 1', TOOLS) is None
