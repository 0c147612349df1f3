"""OpenAI chat-completions requests (plus OpenRouter's extensions) -> a validated `ChatRequest`.

The body is decoded into the declared wire types (api/openai/wire.py), which check every type,
range and enum and name a faulty value by its JSON path; this module converts them to the
canonical request and checks what spans fields. Fields not declared there are kept in
`ChatRequest.extra` and reach OpenAI-dialect upstreams untouched.

`parse_plugins` and the server-tool helpers are shared with the other dialects (legacy
completions, Anthropic Messages, Responses), whose wire types declare `plugins` and `tools` too.
"""

from __future__ import annotations

from typing import Any

from turnout.api.openai import wire
from turnout.api.wire import convert, integral
from turnout.core.routing.sticky import session_id
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
    TextPart,
    Tool,
    ToolCall,
    VideoPart,
)
from turnout.model.errors import invalid
from turnout.plugins.spec import split_server_tools

# Integer parameters that may come as integral floats (`"n": 1.0`).
INTEGERS = ("n", "max_tokens", "max_completion_tokens", "top_k", "seed", "top_logprobs")


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


def _part(p: wire.Part) -> ContentPart:
    if isinstance(p, str):
        return TextPart(p)
    if isinstance(p, wire.TextPart):
        return TextPart(p.text or "", p.cache_control)
    if isinstance(p, wire.ImagePart):
        image = p.image_url
        if isinstance(image, str):
            return ImagePart(image, None, p.cache_control)
        return ImagePart(image.url, image.detail, p.cache_control)
    if isinstance(p, wire.FilePart):
        f = p.file or wire.FileRef()
        return FilePart(f.filename, f.file_data, f.file_id)
    if isinstance(p, wire.AudioPart):
        return AudioPart(p.input_audio.data, p.input_audio.format)
    video = p.video_url
    return VideoPart(video if isinstance(video, str) else video.url)


def _message(m: wire.ChatMessage, i: int) -> Message:
    content = m.content
    if content is None and m.role != "assistant":
        raise invalid(f"messages[{i}].content", f"'messages[{i}].content' is required for role {m.role}")
    if m.role == "tool" and not m.tool_call_id:
        raise invalid(f"messages[{i}].tool_call_id", f"'messages[{i}].tool_call_id' must be a non-empty string")
    return Message(
        role=m.role,
        content=content if content is None or isinstance(content, str) else [_part(p) for p in content],
        name=m.name,
        tool_calls=None if m.tool_calls is None else [
            ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls
        ],
        tool_call_id=m.tool_call_id,
        reasoning=m.reasoning or m.reasoning_content,
        reasoning_details=m.reasoning_details,
    )


def _response_format(rf: wire.ResponseFormat | None) -> ResponseFormat | None:
    if rf is None:
        return None
    if isinstance(rf, wire.JsonSchemaFormat):
        js = rf.json_schema
        return ResponseFormat("json_schema", js.name, js.schema, js.strict)
    return ResponseFormat("text" if isinstance(rf, wire.TextFormat) else "json_object")


def _reasoning(raw: wire.Reasoning | None, include: bool | None) -> Reasoning | None:
    if raw is None and include is None:
        return None
    r = Reasoning()
    if raw is not None:
        r.effort, r.max_tokens, r.exclude, r.enabled = raw.effort, raw.max_tokens, bool(raw.exclude), raw.enabled
    if include is False and raw is None:
        r.exclude = True
    elif include is True and r.enabled is None and r.effort is None:
        r.enabled = True
    return r


def parse_plugins(raw: Any) -> list[JSON] | None:
    """OpenRouter's `plugins`, each an object with a string `id` (kept whole: plugins/spec.py reads
    the options). The dialects' wire types declare the field; this keeps the raw entries."""
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


def without_server_tools(body: Any) -> tuple[Any, list[JSON]]:
    """The body with the web search server tools taken out of its `tools` (they run in turnout, for
    every model: plugins/spec.py), and those tools as plugin entries; before the wire types see it."""
    if not isinstance(body, dict):
        return body, []
    tools, server_tools = split_server_tools(body.get("tools"))
    if server_tools:
        body = {**body, "tools": tools}
    return body, server_tools


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
    """The canonical request: decoded into the wire types (api/openai/wire.py), then the checks
    that span fields; fields not declared there are kept in `extra` for OpenAI-dialect upstreams."""
    if isinstance(body, dict):
        body = integral(body, INTEGERS)
    body, server_tools = without_server_tools(body)  # openrouter:web_search runs in turnout
    w = convert(body, wire.ChatCompletionsBody)
    model = w.model
    if model is None and w.models:
        model = w.models[0]
    if not model:
        raise invalid("model", "'model' must be a non-empty string")
    if w.n not in (None, 1):
        # One choice per request: never fewer choices than asked for (docs/dialects.md).
        raise invalid("n", "'n' must be 1: turnout answers with one choice; send one request per choice")
    rf = _response_format(w.response_format)
    if w.structured_outputs is False and rf is not None and rf.type == "json_schema":
        raise invalid("structured_outputs", "'structured_outputs' is false but response_format is json_schema")
    tc = w.tool_choice
    request = ChatRequest(
        model=model,
        messages=[_message(m, i) for i, m in enumerate(w.messages)],
        stream=bool(w.stream),
        max_tokens=w.max_tokens if w.max_tokens is not None else w.max_completion_tokens,
        temperature=w.temperature,
        top_p=w.top_p,
        top_k=w.top_k,
        min_p=w.min_p,
        top_a=w.top_a,
        frequency_penalty=w.frequency_penalty,
        presence_penalty=w.presence_penalty,
        repetition_penalty=w.repetition_penalty,
        seed=w.seed,
        stop=[w.stop] if isinstance(w.stop, str) else w.stop,
        logit_bias=w.logit_bias,
        logprobs=w.logprobs,
        top_logprobs=w.top_logprobs,
        response_format=rf,
        tools=None if w.tools is None else [
            Tool(t.function.name, t.function.description, t.function.parameters, t.function.strict) for t in w.tools
        ],
        tool_choice=NamedToolChoice(tc.function.name) if isinstance(tc, wire.NamedToolChoice) else tc,
        parallel_tool_calls=w.parallel_tool_calls,
        reasoning=_reasoning(w.reasoning, w.include_reasoning),
        user=w.user,
        # each checked to have an id, kept whole; plus server tools and the legacy transforms
        plugins=with_transforms(with_server_tools(parse_plugins(body.get("plugins")), server_tools), w.transforms),
        models=w.models,
        provider=w.provider,
        session_id=session_id(body),
    )
    extra = {k: v for k, v in body.items() if k not in wire.DECLARED}
    if extra:
        request.extra = extra
    return request
