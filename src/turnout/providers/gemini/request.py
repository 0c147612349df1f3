"""Canonical `ChatRequest` -> Gemini `GenerateContentRequest` (ai.google.dev/api/generate-content).

Roles become `user`/`model`; system and developer messages become `systemInstruction`; tool
results become `functionResponse` parts (named from the assistant call they answer). Images and
files: a data: URL goes inline (`inlineData`), an http(s) URL goes as `fileData.fileUri`, which
Gemini fetches itself, so turnout never fetches a URL. JSON schemas go as JSON Schema
(`parametersJsonSchema`, `responseJsonSchema`), converted faithfully to the keywords Gemini
supports by `SchemaConverter` ($ref resolved, never dropped), or refused with a 400 naming the
place. Thought signatures that came back as `reasoning_details` (`format: google-gemini-v1`) are
put back on the part they came from.

The model's parameter rules (providers/rules.py) decide thinking: `thinkingLevel` on Gemini 3,
`thinkingBudget` clamped to the model's range on 2.5, and thinking off only where the model can
stop thinking; what the model cannot take is dropped and noted, never silently changed.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from turnout.model.chat import (
    JSON,
    AudioPart,
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    Reasoning,
    TextPart,
    VideoPart,
)
from turnout.model.errors import GatewayError, invalid
from turnout.providers.rules import DEFAULT_RULES, Adjustments, ParamRules, admit_sampling, drop_unsupported

REASONING_FORMAT = "google-gemini-v1"
# The request parameters this dialect carries to Gemini; endpoints must not advertise others.
SUPPORTED_PARAMETERS = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty", "presence_penalty",
     "tools", "tool_choice", "reasoning", "include_reasoning", "response_format", "structured_outputs"}
)
# Sampling parameters a GenerationConfig holds (google.genai.types.GenerationConfig), by their wire names.
SAMPLING_KEYS: Mapping[str, str] = {
    "temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
    "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
}
MAX_STOP_SEQUENCES = 5  # GenerationConfig.stopSequences takes at most 5
SYNTHETIC_ID_PREFIX = "call_gemini_"  # ids turnout made up for calls Gemini sent without one
EFFORT_RATIOS: Mapping[str, float] = {
    "max": 0.95, "xhigh": 0.95, "high": 0.8, "medium": 0.5, "low": 0.2, "minimal": 0.1,
}
BUDGET_BASE = 8192  # what effort is a share of when the caller sets no max_tokens
# The JSON Schema keywords Gemini honours in parametersJsonSchema / responseJsonSchema
# (ai.google.dev: structured output, function calling), plus value constraints it accepts and may ignore.
SCHEMA_KEYWORDS = frozenset(
    {"$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum", "items", "prefixItems",
     "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf", "properties", "additionalProperties",
     "required", "propertyOrdering", "nullable", "pattern", "minLength", "maxLength", "minProperties",
     "maxProperties", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems"}
)
# Annotations: they never change which values are valid, so leaving them out is faithful.
SCHEMA_ANNOTATIONS = frozenset(
    {"$schema", "$comment", "examples", "example", "default", "deprecated", "readOnly", "writeOnly",
     "contentMediaType", "contentEncoding"}
)
SCHEMA_DEPTH = 64


class SchemaConverter:
    """A JSON Schema in the form Gemini's JSON-Schema fields take, faithfully or not at all.

    `definitions` move to `$defs`; a `$ref` with sibling keywords becomes `anyOf: [{$ref}]` beside
    them (Gemini allows nothing else next to a `$ref`); a `$ref` to anywhere else in the document is
    inlined; `const` becomes a one-value `enum`; `allOf` of object schemas is merged; `oneOf` stays
    (Gemini reads it as `anyOf`). What Gemini cannot express (`not`, `if`/`then`/`else`,
    `patternProperties`, a remote `$ref`, a recursion through required properties, ...) is a 400
    naming the place.
    """

    def __init__(self, root: JSON, where: str) -> None:
        self.root = root
        self.where = where
        defs: JSON = {}
        for key in ("definitions", "$defs"):
            if isinstance(root.get(key), dict):
                defs.update(root[key])
        self.defs = defs
        self.inlining: list[str] = []

    def fail(self, path: str, why: str) -> GatewayError:
        return invalid(self.where, f"'{self.where}' cannot be sent to Gemini: {why} at {path or '/'}")

    def convert(self) -> JSON:
        out = self.node(self.root, "", 0)
        if self.defs:
            out["$defs"] = {name: self.node(d, f"/$defs/{name}", 1) for name, d in self.defs.items()}
            self.check_cycles(out["$defs"])
        return out

    def ref(self, target: str, path: str, depth: int) -> JSON:
        for prefix in ("#/$defs/", "#/definitions/"):
            if target.startswith(prefix) and target[len(prefix):] in self.defs:
                return {"$ref": "#/$defs/" + target[len(prefix):]}
        if not target.startswith("#"):
            raise self.fail(path, f"a remote $ref ({target})")
        node: Any = self.root
        for token in filter(None, target[1:].split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node.get(token) if isinstance(node, dict) else (
                node[int(token)] if isinstance(node, list) and token.isdigit() and int(token) < len(node) else None)
            if node is None:
                raise self.fail(path, f"a $ref to nothing ({target})")
        if target in self.inlining:
            raise self.fail(path, f"a recursive $ref outside $defs ({target})")
        self.inlining.append(target)
        try:
            return self.node(node, path, depth + 1)
        finally:
            self.inlining.pop()

    def node(self, schema: Any, path: str, depth: int) -> JSON:
        if depth > SCHEMA_DEPTH:
            raise self.fail(path, f"nesting deeper than {SCHEMA_DEPTH}")
        if schema is True or schema == {}:
            return {}
        if not isinstance(schema, dict):
            raise self.fail(path, "a schema that is not an object")
        out: JSON = {}
        for key, value in schema.items():
            at = f"{path}/{key}"
            if key in ("definitions", "$defs") or key in SCHEMA_ANNOTATIONS:
                continue
            if key == "$ref":
                continue  # below, once the siblings are known
            if key == "const":
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    raise self.fail(at, "a const that is not a string or a number")
                out["enum"] = [value]
            elif key == "type" and isinstance(value, list):
                kinds = [t for t in value if isinstance(t, str)]
                if len(kinds) == 1:
                    out["type"] = kinds[0]
                else:
                    out.setdefault("anyOf", []).extend({"type": t} for t in kinds)
            elif key == "allOf":
                self.merge_all_of(out, value, at, depth)
            elif key in ("properties", "$defs"):
                if not isinstance(value, dict):
                    raise self.fail(at, f"{key} that is not an object")
                out[key] = {name: self.node(v, f"{at}/{name}", depth + 1) for name, v in value.items()}
            elif key == "items" and isinstance(value, list):  # the draft-4 tuple form
                out["prefixItems"] = [self.node(v, f"{at}/{i}", depth + 1) for i, v in enumerate(value)]
            elif key in ("items", "additionalProperties") and isinstance(value, (dict, bool)):
                out[key] = value if isinstance(value, bool) else self.node(value, at, depth + 1)
            elif key in ("anyOf", "oneOf", "prefixItems"):
                if not isinstance(value, list) or not value:
                    raise self.fail(at, f"{key} that is not a non-empty array")
                out.setdefault(key, []).extend(self.node(v, f"{at}/{i}", depth + 1) for i, v in enumerate(value))
            elif key in SCHEMA_KEYWORDS:
                out[key] = value
            else:
                raise self.fail(at, f"the keyword {key!r}, which Gemini does not support")
        if "$ref" in schema:
            target = schema["$ref"]
            if not isinstance(target, str):
                raise self.fail(f"{path}/$ref", "a $ref that is not a string")
            resolved = self.ref(target, f"{path}/$ref", depth)
            if "$ref" not in resolved:
                merged = {**resolved, **out}
                return merged
            if out:  # Gemini allows nothing beside a $ref: the reference moves into an anyOf
                out.setdefault("anyOf", []).append(resolved)
                return out
            return resolved
        return out

    def merge_all_of(self, out: JSON, parts: Any, at: str, depth: int) -> None:
        if not isinstance(parts, list) or not parts:
            raise self.fail(at, "allOf that is not a non-empty array")
        for i, part in enumerate(parts):
            sub = self.node(part, f"{at}/{i}", depth + 1)
            if "$ref" in sub or "anyOf" in sub or "oneOf" in sub:
                raise self.fail(f"{at}/{i}", "an allOf of alternatives or references")
            for key, value in sub.items():
                if key == "properties":
                    props = out.setdefault("properties", {})
                    for name, prop in value.items():
                        if name in props and props[name] != prop:
                            raise self.fail(f"{at}/{i}/properties/{name}", "an allOf with conflicting properties")
                        props[name] = prop
                elif key == "required":
                    out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
                elif key in out and out[key] != value:
                    raise self.fail(f"{at}/{i}/{key}", "an allOf with conflicting keywords")
                else:
                    out[key] = value

    def check_cycles(self, defs: JSON) -> None:
        """Gemini unrolls recursion only through optional properties: one through required ones is refused."""

        def required_refs(node: Any) -> set[str]:
            found: set[str] = set()
            if not isinstance(node, dict):
                return found
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                found.add(ref[len("#/$defs/"):])
            for alt in node.get("anyOf", []) if len(node.get("anyOf", [])) == 1 else []:
                found |= required_refs(alt)
            props = node.get("properties") or {}
            for name in node.get("required") or ():
                found |= required_refs(props.get(name))
            return found

        edges = {name: required_refs(d) for name, d in defs.items()}
        for start in edges:
            seen: set[str] = set()
            todo = list(edges[start])
            while todo:
                name = todo.pop()
                if name == start:
                    raise self.fail(f"/$defs/{start}", "a recursion through required properties")
                if name not in seen:
                    seen.add(name)
                    todo.extend(edges.get(name, ()))


def to_json_schema(schema: Any, where: str) -> JSON:
    if not isinstance(schema, dict):
        raise invalid(where, f"'{where}' must be a JSON Schema object")
    return SchemaConverter(schema, where).convert()


def split_data_url(url: str) -> tuple[str, str] | None:
    if not url.startswith("data:"):
        return None
    head, _, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if encoding != "base64" or not data:
        return None
    return media_type or "application/octet-stream", data


def media_part(url: str, default_type: str, where: str) -> JSON:
    inline = split_data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    if not url.startswith(("http://", "https://", "gs://")):
        raise invalid(where, f"'{where}': media must be an http(s) URL or a base64 data: URL")
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return {"fileData": {"mimeType": guessed or default_type, "fileUri": url}}


def to_gemini_part(part: ContentPart, where: str) -> JSON:
    match part:
        case TextPart(text=text):
            return {"text": text}
        case ImagePart(url=url):
            return media_part(url, "image/jpeg", where)
        case FilePart(file_data=data) if data:
            return media_part(data, "application/pdf", where)
        case VideoPart(url=url):
            return media_part(url, "video/mp4", where)
        case AudioPart(data=data, format=fmt):
            return {"inlineData": {"mimeType": f"audio/{fmt}", "data": data}}
        case FilePart():
            raise invalid(where, f"'{where}': Gemini takes files as file_data (a data: or http(s) URL)")
    raise AssertionError(part)


def to_gemini_parts(content: str | list[ContentPart] | None, where: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [to_gemini_part(p, f"{where}[{j}]") for j, p in enumerate(content)]


def signatures_of(message: Message) -> dict[str | None, str]:
    """Thought signatures this assistant turn carried, by the tool call id they belong to (or None)."""
    out: dict[str | None, str] = {}
    for d in message.reasoning_details or ():
        if d.get("format") == REASONING_FORMAT and d.get("type") == "reasoning.encrypted" and d.get("data"):
            out[d.get("id")] = d["data"]
    return out


def function_response(content: str | list[ContentPart] | None) -> JSON:
    text = content if isinstance(content, str) else "".join(p.text for p in content or () if isinstance(p, TextPart))
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"result": text}


def to_gemini_contents(messages: list[Message]) -> tuple[list[JSON], list[JSON]]:
    """(system parts, contents), same-role turns merged."""
    system: list[JSON] = []
    contents: list[JSON] = []
    names: dict[str, str] = {}  # tool call id -> function name

    def add(role: str, parts: list[JSON]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for i, m in enumerate(messages):
        where = f"messages[{i}].content"
        if m.role in ("system", "developer"):
            system.extend(to_gemini_parts(m.content, where))
        elif m.role == "user":
            add("user", to_gemini_parts(m.content, where))
        elif m.role == "tool":
            call_id = m.tool_call_id or ""
            fr: JSON = {"name": names.get(call_id) or m.name or "", "response": function_response(m.content)}
            if call_id and not call_id.startswith(SYNTHETIC_ID_PREFIX):
                fr["id"] = call_id
            add("user", [{"functionResponse": fr}])
        else:
            signatures = signatures_of(m)
            parts = to_gemini_parts(m.content, where)
            for j, call in enumerate(m.tool_calls or ()):
                names[call.id] = call.name
                try:
                    args = orjson.loads(call.arguments) if call.arguments.strip() else {}
                except orjson.JSONDecodeError:
                    raise invalid(f"messages[{i}].tool_calls[{j}].function.arguments", "tool call arguments are not valid JSON") from None
                fc: JSON = {"name": call.name, "args": args}
                if not call.id.startswith(SYNTHETIC_ID_PREFIX):
                    fc["id"] = call.id
                part: JSON = {"functionCall": fc}
                if call.id in signatures:
                    part["thoughtSignature"] = signatures.pop(call.id)
                parts.append(part)
            if None in signatures and parts:
                parts[0]["thoughtSignature"] = signatures.pop(None)
            add("model", parts)
    return system, contents


def to_thinking_config(
    reasoning: Reasoning, max_tokens: int | None, rules: ParamRules = DEFAULT_RULES, notes: Adjustments | None = None
) -> JSON | None:
    """Gemini's thinkingConfig in the model's form (its parameter rules), or None to leave thinking to the model.

    Level models (Gemini 3) get `thinkingLevel`; budget models `thinkingBudget`, within the model's
    range, -1 for "the model decides" and 0 for off where the model can stop thinking.
    """
    notes = notes if notes is not None else Adjustments("gemini")
    form = rules.thinking[0] if rules.thinking else "budget"
    if reasoning.enabled is False or reasoning.effort == "none":
        if not rules.thinking_off:
            notes.drop("reasoning.enabled", f"{rules.family} always thinks; thinking cannot be turned off")
            return None
        return {"thinkingBudget": 0}
    if not reasoning.active:
        return None  # include_reasoning: false alone only hides the thoughts
    config: JSON = {"includeThoughts": not reasoning.exclude}
    if form == "level":
        if reasoning.max_tokens:
            notes.drop("reasoning.max_tokens", f"{rules.family} thinks by level and takes no thinking budget")
        if reasoning.effort:
            level = rules.nearest_effort(reasoning.effort) or reasoning.effort
            if level != reasoning.effort:
                notes.change("reasoning.effort", f"{rules.family} takes thinking levels "
                             f"{'/'.join(rules.efforts)}; {reasoning.effort} became {level}")
            config["thinkingLevel"] = level.upper()
        return config
    if reasoning.max_tokens:
        budget = rules.clamp_budget(reasoning.max_tokens)
        if budget != reasoning.max_tokens:
            notes.change("reasoning.max_tokens", f"{rules.family} takes thinking budgets of "
                         f"{rules.budget_min}-{rules.budget_max}; {reasoning.max_tokens} became {budget}")
    elif reasoning.effort:
        ratio = EFFORT_RATIOS.get(reasoning.effort, EFFORT_RATIOS["medium"])
        budget = rules.clamp_budget(int((max_tokens or BUDGET_BASE) * ratio))
    else:
        budget = -1  # dynamic: the model decides
    config["thinkingBudget"] = budget
    return config


def to_function_declarations(request: ChatRequest) -> list[JSON]:
    declarations = []
    for i, t in enumerate(request.tools or ()):
        decl: JSON = {"name": t.name}
        if t.description is not None:
            decl["description"] = t.description
        params = t.parameters
        if params and (params.get("properties") or set(params) - {"type", "properties", "required", "additionalProperties", "$schema"}):
            decl["parametersJsonSchema"] = to_json_schema(params, f"tools[{i}].function.parameters")
        declarations.append(decl)
    return declarations


def to_gemini_body(
    request: ChatRequest, rules: ParamRules = DEFAULT_RULES, notes: Adjustments | None = None, model: str = "gemini"
) -> JSON:
    """The GenerateContentRequest body; what the model cannot take is dropped and noted (providers/rules.py)."""
    notes = notes if notes is not None else Adjustments.of(request, model)
    system, contents = to_gemini_contents(request.messages)
    body: JSON = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools and request.tool_choice != "none":
        body["tools"] = [{"functionDeclarations": to_function_declarations(request)}]
        tc = request.tool_choice
        if isinstance(tc, NamedToolChoice):
            body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [tc.name]}}
        elif tc == "required":
            body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY"}}
        elif tc == "auto":
            body["toolConfig"] = {"functionCallingConfig": {"mode": "AUTO"}}
    config: JSON = {}
    drop_unsupported(request, ("logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls"), notes, "Gemini")
    for name, value in admit_sampling(request, rules, tuple(SAMPLING_KEYS), notes, "Gemini").items():
        config[SAMPLING_KEYS[name]] = value
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        if len(request.stop) > MAX_STOP_SEQUENCES:
            notes.change("stop", f"Gemini takes at most {MAX_STOP_SEQUENCES} stop sequences; the first "
                         f"{MAX_STOP_SEQUENCES} of {len(request.stop)} were sent")
        config["stopSequences"] = request.stop[:MAX_STOP_SEQUENCES]
    rf = request.response_format
    if rf is not None and rf.type != "text":
        config["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema:
            config["responseJsonSchema"] = to_json_schema(rf.schema, "response_format.json_schema.schema")
    if request.reasoning is not None:
        thinking = to_thinking_config(request.reasoning, request.max_tokens, rules, notes)
        if thinking is not None:
            config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    return body
