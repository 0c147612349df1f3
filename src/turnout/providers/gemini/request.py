"""Canonical `ChatRequest` -> Gemini `GenerateContentRequest` (ai.google.dev/api/generate-content).

Roles become `user`/`model`; system and developer messages become `systemInstruction`; tool
results become `functionResponse` parts (named from the assistant call they answer). Images and
files: a data: URL goes inline (`inlineData`), an http(s) URL goes as `fileData.fileUri`, which
Gemini fetches itself, so turnout never fetches a URL. JSON schemas (tool parameters and
`responseSchema`) are reduced to the OpenAPI subset Gemini accepts. Thought signatures that came
back as `reasoning_details` (`format: google-gemini-v1`) are put back on the part they came from.
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
from turnout.model.errors import invalid

REASONING_FORMAT = "google-gemini-v1"
# The request parameters this dialect carries to Gemini; endpoints must not advertise others.
SUPPORTED_PARAMETERS = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty", "presence_penalty",
     "tools", "tool_choice", "reasoning", "include_reasoning", "response_format", "structured_outputs"}
)
SYNTHETIC_ID_PREFIX = "call_gemini_"  # ids turnout made up for calls Gemini sent without one
EFFORT_RATIOS: Mapping[str, float] = {
    "max": 0.95, "xhigh": 0.95, "high": 0.8, "medium": 0.5, "low": 0.2, "minimal": 0.1,
}
BUDGET_BASE = 8192  # what effort is a share of when the caller sets no max_tokens
MIN_BUDGET, MAX_BUDGET = 1024, 24576  # Gemini 2.5 Flash's range; Pro accepts up to 32768
SCHEMA_KEYS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
     "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
     "propertyOrdering", "default", "items", "minimum", "maximum"}
)


def to_gemini_schema(schema: Any) -> Any:
    """A JSON Schema reduced to Gemini's OpenAPI subset: unknown keywords dropped, type lists folded."""
    if not isinstance(schema, dict):
        return schema
    out: JSON = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            out["type"] = kinds[0] if kinds else "string"
            if "null" in value:
                out["nullable"] = True
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: to_gemini_schema(v) for k, v in value.items()}
        elif key in ("items",):
            out[key] = to_gemini_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out["anyOf"] = [to_gemini_schema(v) for v in value]
        elif key in SCHEMA_KEYS:
            out[key] = value
    return out


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


def to_thinking_config(reasoning: Reasoning, max_tokens: int | None) -> JSON | None:
    """Gemini's thinkingConfig, or None to leave thinking to the model (e.g. include_reasoning: false only hides it)."""
    if reasoning.enabled is False or reasoning.effort == "none":
        return {"thinkingBudget": 0}
    if not reasoning.active:
        return None
    if reasoning.max_tokens:
        budget = reasoning.max_tokens
    elif reasoning.effort:
        ratio = EFFORT_RATIOS.get(reasoning.effort, EFFORT_RATIOS["medium"])
        budget = max(min(int((max_tokens or BUDGET_BASE) * ratio), MAX_BUDGET), MIN_BUDGET)
    else:
        budget = -1  # dynamic: the model decides
    return {"thinkingBudget": budget, "includeThoughts": not reasoning.exclude}


def to_gemini_body(request: ChatRequest) -> JSON:
    system, contents = to_gemini_contents(request.messages)
    body: JSON = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools and request.tool_choice != "none":
        declarations = []
        for t in request.tools:
            decl: JSON = {"name": t.name}
            if t.description is not None:
                decl["description"] = t.description
            if t.parameters and t.parameters.get("properties"):
                decl["parameters"] = to_gemini_schema(t.parameters)
            declarations.append(decl)
        body["tools"] = [{"functionDeclarations": declarations}]
        tc = request.tool_choice
        if isinstance(tc, NamedToolChoice):
            body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [tc.name]}}
        elif tc == "required":
            body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY"}}
        elif tc == "auto":
            body["toolConfig"] = {"functionCallingConfig": {"mode": "AUTO"}}
    config: JSON = {}
    for name, key in (
        ("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"), ("max_tokens", "maxOutputTokens"),
        ("seed", "seed"), ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
    ):
        value = getattr(request, name)
        if value is not None:
            config[key] = value
    if request.stop:
        config["stopSequences"] = request.stop[:5]
    rf = request.response_format
    if rf is not None and rf.type != "text":
        config["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema:
            config["responseSchema"] = to_gemini_schema(rf.schema)
    thinking = to_thinking_config(request.reasoning, request.max_tokens) if request.reasoning is not None else None
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    return body
