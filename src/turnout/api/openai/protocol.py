"""OpenAI chat-completions requests (plus OpenRouter's extensions) -> a validated `ChatRequest`.

Wire reference: https://platform.openai.com/docs/api-reference/chat/create and
https://openrouter.ai/docs/api/reference/parameters. Validation is table-driven and hand-written
(no model library on the hot path); every error is a 400 that names the parameter. Fields not
modelled here are kept in `ChatRequest.extra` and reach OpenAI-dialect upstreams untouched,
except the gateway-only ones in `GATEWAY_ONLY`, which are never sent upstream.
"""

from __future__ import annotations

from typing import Any, cast

from turnout.core.sticky import session_id
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
    ResponseFormat,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    VideoPart,
)
from turnout.model.errors import invalid
from turnout.plugins.spec import split_server_tools

# OpenRouter extensions interpreted by the gateway itself.
GATEWAY_ONLY = frozenset(
    {"models", "provider", "route", "transforms", "plugins", "usage", "include_reasoning",
     "structured_outputs", "stream_options", "max_completion_tokens", "debug", "session_id", "preset"}
)
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})

# name -> (kind, low, high): numbers are checked against an inclusive range.
NUMBERS: dict[str, tuple[type, float | None, float | None]] = {
    "temperature": (float, 0, 2),
    "top_p": (float, 0, 1),
    "top_k": (int, 0, None),
    "min_p": (float, 0, 1),
    "top_a": (float, 0, 1),
    "frequency_penalty": (float, -2, 2),
    "presence_penalty": (float, -2, 2),
    "repetition_penalty": (float, 0, 2),
    "seed": (int, None, None),
    "top_logprobs": (int, 0, 20),
    "max_tokens": (int, 1, None),
    "max_completion_tokens": (int, 1, None),
    "n": (int, 1, None),  # only 1 is served (see to_chat_request)
}
# Integers must fit a signed 64-bit field: the JSON encoder (and every provider) refuses larger ones,
# and orjson reads a longer literal as a float that int() would turn back into a huge integer.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MODELLED = frozenset(NUMBERS) | {
    "model", "messages", "stream", "stop", "logit_bias", "logprobs", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning", "user",
}


def number(body: JSON, name: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kind, low, high = NUMBERS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, f"'{name}' must be {'an integer' if kind is int else 'a number'}")
    if kind is int and not isinstance(value, int):
        if not float(value).is_integer():
            raise invalid(name, f"'{name}' must be an integer")
        value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(name, f"'{name}' must be {bounds}, got {value}")
    if kind is int and not INT64_MIN <= value <= INT64_MAX:
        raise invalid(name, f"'{name}' must fit in a signed 64-bit integer")
    return value


def int64(value: Any) -> bool:
    """An integer (not a bool) that fits a signed 64-bit field."""
    return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX


def boolean(body: JSON, name: str, where: str | None = None) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise invalid(where or name, f"'{where or name}' must be a boolean")


def string(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise invalid(where, f"'{where}' must be a {'non-empty ' if required else ''}string")
    return value


def mapping(value: Any, where: str) -> JSON | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(where, f"'{where}' must be an object")
    return value


def required_mapping(value: Any, where: str) -> JSON:
    """An object that must be there: `null` (as in `messages: [null]`) is a 400 like any other non-object."""
    if not isinstance(value, dict):
        raise invalid(where, f"'{where}' must be an object")
    return value


def parse_part(raw: Any, where: str) -> ContentPart:
    if isinstance(raw, str):
        return TextPart(raw)
    part = required_mapping(raw, where)
    kind = part.get("type")
    cache = part.get("cache_control")
    if kind == "text":
        return TextPart(string(part.get("text"), f"{where}.text", required=False) or "", cache)
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):
            return ImagePart(image, None, cache)
        image = mapping(image, f"{where}.image_url")
        if image is None:
            raise invalid(f"{where}.image_url", f"'{where}.image_url' is required")
        detail = image.get("detail")
        if detail is not None and detail not in ("auto", "low", "high"):
            raise invalid(f"{where}.image_url.detail", "'detail' must be auto, low or high")
        return ImagePart(string(image.get("url"), f"{where}.image_url.url", required=True) or "", detail, cache)
    if kind == "file":
        file = mapping(part.get("file"), f"{where}.file") or {}
        return FilePart(
            string(file.get("filename"), f"{where}.file.filename"),
            string(file.get("file_data"), f"{where}.file.file_data"),
            string(file.get("file_id"), f"{where}.file.file_id"),
        )
    if kind == "input_audio":
        audio = mapping(part.get("input_audio"), f"{where}.input_audio") or {}
        return AudioPart(
            string(audio.get("data"), f"{where}.input_audio.data", required=True) or "",
            string(audio.get("format"), f"{where}.input_audio.format", required=True) or "",
        )
    if kind == "video_url":
        video = part.get("video_url")
        if isinstance(video, str):
            return VideoPart(video)
        video = mapping(video, f"{where}.video_url") or {}
        return VideoPart(string(video.get("url"), f"{where}.video_url.url", required=True) or "")
    raise invalid(f"{where}.type", f"unknown content part type {kind!r} at '{where}'")


def parse_message(raw: Any, i: int) -> Message:
    where = f"messages[{i}]"
    m = required_mapping(raw, where)
    role = m.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise invalid(f"{where}.role", f"'{where}.role' must be one of {sorted(ROLES)}")
    content = m.get("content")
    parsed: str | list[ContentPart] | None
    if content is None or isinstance(content, str):
        parsed = content
    elif isinstance(content, list):
        parsed = [parse_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)]
    else:
        raise invalid(f"{where}.content", f"'{where}.content' must be a string or an array of parts")
    tool_calls = None
    raw_calls = m.get("tool_calls")
    if raw_calls is not None:
        if not isinstance(raw_calls, list):
            raise invalid(f"{where}.tool_calls", f"'{where}.tool_calls' must be an array")
        tool_calls = []
        for j, c in enumerate(raw_calls):
            cw = f"{where}.tool_calls[{j}]"
            call = mapping(c, cw) or {}
            fn = mapping(call.get("function"), f"{cw}.function") or {}
            args = fn.get("arguments", "")
            if not isinstance(args, str):
                raise invalid(f"{cw}.function.arguments", "tool call arguments must be a JSON string")
            tool_calls.append(
                ToolCall(
                    string(call.get("id"), f"{cw}.id", required=True) or "",
                    string(fn.get("name"), f"{cw}.function.name", required=True) or "",
                    args,
                )
            )
    tool_call_id = string(m.get("tool_call_id"), f"{where}.tool_call_id", required=role == "tool")
    if parsed is None and role not in ("assistant",):
        raise invalid(f"{where}.content", f"'{where}.content' is required for role {role}")
    details = m.get("reasoning_details")
    if details is not None and not isinstance(details, list):
        raise invalid(f"{where}.reasoning_details", "'reasoning_details' must be an array")
    return Message(
        role=cast(Role, role),  # one of ROLES, checked above
        content=parsed,
        name=string(m.get("name"), f"{where}.name"),
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        reasoning=string(m.get("reasoning") or m.get("reasoning_content"), f"{where}.reasoning"),
        reasoning_details=details,
    )


def parse_tools(raw: Any) -> list[Tool] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise invalid("tools", "'tools' must be an array")
    tools = []
    for i, t in enumerate(raw):
        where = f"tools[{i}]"
        tool = mapping(t, where) or {}
        if tool.get("type", "function") != "function":
            raise invalid(f"{where}.type", f"'{where}.type' must be 'function'")
        fn = mapping(tool.get("function"), f"{where}.function")
        if fn is None:
            raise invalid(f"{where}.function", f"'{where}.function' is required")
        params = mapping(fn.get("parameters"), f"{where}.function.parameters")
        tools.append(
            Tool(
                string(fn.get("name"), f"{where}.function.name", required=True) or "",
                string(fn.get("description"), f"{where}.function.description"),
                params,
                boolean(fn, "strict", f"{where}.function.strict"),
            )
        )
    return tools


def parse_tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return raw  # type: ignore[no-any-return]
    if isinstance(raw, dict) and raw.get("type") == "function":
        fn = mapping(raw.get("function"), "tool_choice.function") or {}
        return NamedToolChoice(string(fn.get("name"), "tool_choice.function.name", required=True) or "")
    raise invalid("tool_choice", "'tool_choice' must be none, auto, required or {type: function, function: {name}}")


def parse_response_format(raw: Any) -> ResponseFormat | None:
    rf = mapping(raw, "response_format")
    if rf is None:
        return None
    kind = rf.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind == "json_schema":
        js = mapping(rf.get("json_schema"), "response_format.json_schema")
        if js is None:
            raise invalid("response_format.json_schema", "'response_format.json_schema' is required")
        schema = mapping(js.get("schema"), "response_format.json_schema.schema")
        return ResponseFormat(
            "json_schema",
            string(js.get("name"), "response_format.json_schema.name"),
            schema,
            boolean(js, "strict", "response_format.json_schema.strict"),
        )
    raise invalid("response_format.type", "'response_format.type' must be text, json_object or json_schema")


def parse_reasoning(body: JSON) -> Reasoning | None:
    raw = mapping(body.get("reasoning"), "reasoning")
    include = boolean(body, "include_reasoning")
    if raw is None and include is None:
        return None
    r = Reasoning()
    if raw is not None:
        effort = raw.get("effort")
        if effort is not None and (not isinstance(effort, str) or effort not in EFFORTS):
            raise invalid("reasoning.effort", f"'reasoning.effort' must be one of {sorted(EFFORTS)}")
        r.effort = effort
        mt = raw.get("max_tokens")
        if mt is not None and (not int64(mt) or mt < 0):
            raise invalid("reasoning.max_tokens", "'reasoning.max_tokens' must be a non-negative integer")
        r.max_tokens = mt
        r.exclude = bool(boolean(raw, "exclude", "reasoning.exclude"))
        r.enabled = boolean(raw, "enabled", "reasoning.enabled")
    if include is False and raw is None:
        r.exclude = True
    elif include is True and r.enabled is None and r.effort is None:
        r.enabled = True
    return r


def parse_stop(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return raw
    raise invalid("stop", "'stop' must be a string or an array of strings")


def parse_logit_bias(raw: Any) -> dict[str, float] | None:
    bias = mapping(raw, "logit_bias")
    if bias is None:
        return None
    for k, v in bias.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -100 <= v <= 100:
            raise invalid("logit_bias", f"'logit_bias[{k}]' must be a number between -100 and 100")
    return bias


def parse_plugins(raw: Any) -> list[JSON] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise invalid("plugins", "'plugins' must be an array")
    plugins = []
    for i, p in enumerate(raw):
        plugin = mapping(p, f"plugins[{i}]") or {}
        string(plugin.get("id"), f"plugins[{i}].id", required=True)
        plugins.append(plugin)
    return plugins


def with_server_tools(plugins: list[JSON] | None, server_tools: list[JSON]) -> list[JSON] | None:
    """The request's plugins plus the web search server tools it asked for (plugins/spec.py)."""
    if not server_tools:
        return plugins
    return [*(p for p in plugins or () if p.get("id") != "web"), *server_tools[:1]]


def with_transforms(plugins: list[JSON] | None, transforms: Any) -> list[JSON] | None:
    """OpenRouter's legacy `transforms`: ["middle-out"] asks for context compression, [] turns it off."""
    if transforms is None or any(p.get("id") == "context-compression" for p in plugins or ()):
        return plugins
    if not isinstance(transforms, list) or not all(t == "middle-out" for t in transforms):
        raise invalid("transforms", "'transforms' must be [\"middle-out\"] or []")
    return [*(plugins or ()), {"id": "context-compression", "enabled": bool(transforms)}]


def to_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    models = body.get("models")
    if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
        raise invalid("models", "'models' must be an array of model ids")
    model = body.get("model")
    if model is None and models:
        model = models[0]
    model = string(model, "model", required=True)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "'messages' must be a non-empty array")
    stream = boolean(body, "stream") or False
    if number(body, "n") not in (None, 1):
        # One choice per request: never fewer choices than asked for (docs/dialects.md).
        raise invalid("n", "'n' must be 1: turnout answers with one choice; send one request per choice")
    max_tokens = number(body, "max_tokens")
    if max_tokens is None:
        max_tokens = number(body, "max_completion_tokens")
    tools_raw, server_tools = split_server_tools(body.get("tools"))  # openrouter:web_search runs in turnout
    request = ChatRequest(
        model=model or "",
        messages=[parse_message(m, i) for i, m in enumerate(messages)],
        stream=stream,
        max_tokens=max_tokens,
        temperature=number(body, "temperature"),
        top_p=number(body, "top_p"),
        top_k=number(body, "top_k"),
        min_p=number(body, "min_p"),
        top_a=number(body, "top_a"),
        frequency_penalty=number(body, "frequency_penalty"),
        presence_penalty=number(body, "presence_penalty"),
        repetition_penalty=number(body, "repetition_penalty"),
        seed=number(body, "seed"),
        stop=parse_stop(body.get("stop")),
        logit_bias=parse_logit_bias(body.get("logit_bias")),
        logprobs=boolean(body, "logprobs"),
        top_logprobs=number(body, "top_logprobs"),
        response_format=parse_response_format(body.get("response_format")),
        tools=parse_tools(tools_raw),
        tool_choice=parse_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=boolean(body, "parallel_tool_calls"),
        reasoning=parse_reasoning(body),
        user=string(body.get("user"), "user"),
        plugins=with_transforms(with_server_tools(parse_plugins(body.get("plugins")), server_tools), body.get("transforms")),
        models=models,
        provider=mapping(body.get("provider"), "provider"),
        session_id=session_id(body),
    )
    structured = boolean(body, "structured_outputs")
    if structured is False and request.response_format and request.response_format.type == "json_schema":
        raise invalid("structured_outputs", "'structured_outputs' is false but response_format is json_schema")
    mapping(body.get("usage"), "usage")
    mapping(body.get("stream_options"), "stream_options")
    extra = {k: v for k, v in body.items() if k not in _MODELLED and k not in GATEWAY_ONLY}
    if extra:
        request.extra = extra
    return request
