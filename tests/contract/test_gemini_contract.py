"""Every GenerateContentRequest turnout builds is what the official `google-genai` SDK declares.

The REST body's top-level fields are the ones the SDK itself writes (models._GenerateContentParameters
_to_mldev and _GenerateContentConfig_to_mldev): `contents`, `systemInstruction`, `tools`, `toolConfig`,
`generationConfig`, `safetySettings`, `cachedContent`; each is checked field by field, by alias,
against the SDK's own models (google.genai.types). Each model family's rules are checked on top:
thinking by level or by budget, budgets in the model's range, thinking off only where allowed.
"""

from __future__ import annotations

from typing import Any, Required

import orjson
import pytest
from google.genai import types
from typing_extensions import TypedDict

from tests.contract.matrix import CASES, SCHEMA_TOOL, target
from tests.contract.sdk_types import assert_declared, undeclared
from turnout.model.chat import ChatRequest, Message, Tool
from turnout.model.errors import GatewayError
from turnout.providers.gemini import GeminiAdapter
from turnout.providers.gemini.request import to_json_schema


class GenerateContentRequest(TypedDict, total=False):
    contents: Required[list[types.Content]]
    systemInstruction: types.Content
    tools: list[types.Tool]
    toolConfig: types.ToolConfig
    generationConfig: types.GenerationConfig
    safetySettings: list[types.SafetySetting]
    cachedContent: str


MODELS = ["gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite",
          "gemini-custom"]
REFUSED: dict[str, str] = {}


def build(case: str | ChatRequest, model: str) -> dict[str, Any]:
    request = CASES[case]() if isinstance(case, str) else case
    up = GeminiAdapter().build_request(request, target("gemini", model))
    assert up.headers["x-goog-api-key"] == "key"
    return orjson.loads(up.body)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_body_is_what_the_sdk_declares(case: str, model: str) -> None:
    if case in REFUSED:
        with pytest.raises(GatewayError) as err:
            build(case, model)
        assert err.value.status == 400 and err.value.param == REFUSED[case]
        return
    body = build(case, model)
    assert_declared(body, GenerateContentRequest, f"the {case!r} body for {model}")
    rules = target("gemini", model).rules
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    assert not ("thinkingLevel" in thinking and "thinkingBudget" in thinking)  # mutually exclusive: a 400
    if "thinkingLevel" in thinking:
        assert rules.thinking[0] == "level" and thinking["thinkingLevel"].lower() in rules.efforts, (model, thinking)
    if "thinkingBudget" in thinking:
        budget = thinking["thinkingBudget"]
        assert rules.thinking[0] == "budget", (model, thinking)
        assert budget == -1 or (budget == 0 and rules.thinking_off) or rules.clamp_budget(budget) == budget, (model, budget)


def test_the_check_refuses_what_the_sdk_does_not_know() -> None:
    body = build("everything", "gemini-2.5-flash")
    assert undeclared(body, GenerateContentRequest) == []
    for bad in ({"generation_config": {}}, {"generationConfig": {"thinkingConfig": {"budget": 5}}},
                {"contents": [{"role": "user", "parts": [{"txt": "x"}]}]}, {"toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}):
        assert undeclared({**body, **bad}, GenerateContentRequest), bad


def test_thinking_by_model() -> None:
    assert build("reasoning-high", "gemini-3-pro-preview")["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True, "thinkingLevel": "HIGH"}
    assert build("reasoning-minimal", "gemini-3-pro-preview")["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"
    assert build("reasoning-minimal", "gemini-3-flash-preview")["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "MINIMAL"
    assert "generationConfig" not in build("reasoning-off", "gemini-3-pro-preview")  # cannot stop thinking: dropped
    assert "generationConfig" not in build("reasoning-off", "gemini-2.5-pro")
    assert build("reasoning-off", "gemini-2.5-flash")["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    assert build("reasoning-tiny-budget", "gemini-2.5-pro")["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 128
    assert build("reasoning-tiny-budget", "gemini-2.5-flash-lite")["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 512
    up = GeminiAdapter().build_request(CASES["reasoning-tiny-budget"](), target("gemini", "gemini-2.5-flash-lite"))
    assert [(n["param"], n["action"]) for n in up.adjusted] == [("reasoning.max_tokens", "changed")]


def test_tool_schemas_keep_refs_and_alternatives() -> None:
    decl = build("schema-tool", "gemini-2.5-flash")["tools"][0]["functionDeclarations"][0]
    schema = decl["parametersJsonSchema"]
    assert schema["properties"]["stops"]["items"] == {"$ref": "#/$defs/stop"}  # not {}
    assert schema["$defs"]["stop"]["required"] == ["city"]
    assert schema["properties"]["mode"] == {"oneOf": [{"enum": ["train"]}, {"enum": ["car"]}]}
    assert schema["properties"]["budget"] == {"anyOf": [{"type": "number"}, {"type": "null"}], "description": "in EUR"}
    # Gemini takes nothing beside a $ref: the reference moves into an anyOf, the description stays.
    assert schema["properties"]["home"] == {"description": "where the trip starts", "anyOf": [{"$ref": "#/$defs/stop"}]}
    assert SCHEMA_TOOL.parameters is not None and "definitions" not in schema


@pytest.mark.parametrize(("schema", "where"), [
    ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "/properties/a/not"),
    ({"type": "object", "properties": {"a": {"$ref": "https://schemas.example/a.json"}}}, "/properties/a/$ref"),
    ({"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}}, "/if"),
    ({"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}, "required": ["next"]}},
      "type": "object", "properties": {"head": {"$ref": "#/$defs/n"}}}, "/$defs/n"),
])
def test_what_gemini_cannot_express_is_a_400(schema: dict[str, Any], where: str) -> None:
    request = ChatRequest("m", [Message("user", "hi")], tools=[Tool("f", "d", schema)])
    with pytest.raises(GatewayError) as err:
        build(request, "gemini-2.5-flash")
    assert err.value.status == 400 and err.value.param == "tools[0].function.parameters"
    assert where in err.value.message


def test_recursion_through_optional_properties_is_kept() -> None:
    tree = {"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
            "$ref": "#/$defs/node"}
    assert to_json_schema(tree, "p") == {"$ref": "#/$defs/node", "$defs": tree["$defs"]}
    legacy = {"definitions": {"a": {"type": "string"}}, "type": "object", "properties": {"x": {"$ref": "#/definitions/a"}},
              "allOf": [{"properties": {"y": {"type": "integer"}}, "required": ["y"]}]}
    assert to_json_schema(legacy, "p") == {"type": "object", "properties": {"x": {"$ref": "#/$defs/a"}, "y": {"type": "integer"}},
                                           "required": ["y"], "$defs": {"a": {"type": "string"}}}
