"""Anthropic Messages requests -> a validated canonical `ChatRequest`.

Wire reference: https://docs.anthropic.com/en/api/messages. Each error is a 400 that names the
parameter, as `messages[1].content[0].source.media_type`. What maps where:

  system (string or text blocks)        -> a leading system message
  user text / image / document blocks   -> user content parts (images as data: or http(s) URLs)
  user tool_result blocks               -> tool messages (before the rest of that user turn)
  assistant tool_use blocks             -> assistant tool_calls, `input` as JSON text
  assistant thinking / redacted_thinking -> reasoning + reasoning_details (text with its
                                           signature / encrypted data), echoed back unchanged;
                                           other providers' details come back out of opaque.py
  thinking {enabled, budget_tokens}     -> reasoning {max_tokens: budget_tokens}
  thinking {adaptive} / output_config.effort -> reasoning {enabled} / {effort}
  output_config.format (json_schema)    -> response_format json_schema
  tool_choice auto / any / tool / none  -> auto / required / named / none
  stop_sequences -> stop; metadata.user_id -> user

Anthropic-only hints (`service_tier`, `speed`, `inference_geo`, top-level `cache_control`, ...) are
accepted and ignored; `mcp_servers` and `container`, which would silently change what the model
can do, are refused. Nothing here is passed to upstreams untranslated.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.api.anthropic.opaque import unpack
from turnout.api.openai.protocol import EFFORTS, boolean, mapping, string
from turnout.api.wire import INT64_MAX
from turnout.model.chat import (
    JSON,
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
    ToolChoice,
)
from turnout.model.errors import invalid

REASONING_FORMAT = "anthropic-claude-v1"  # OpenRouter's `format` tag for Anthropic thinking blocks
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Server tools run by Anthropic itself; no other provider can run them.
SERVER_TOOL_PREFIXES = ("web_search_", "web_fetch_", "code_execution_", "computer_", "bash_", "text_editor_",
                        "memory_", "tool_search_")


def bounded(body: JSON, name: str, low: float, high: float | None, *, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise invalid(name, f"{name}: must be {'an integer' if integer else 'a number'}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(name, f"{name}: must be {bounds}, got {value}")
    if integer and value > INT64_MAX:  # larger integers cannot be encoded for any upstream
        raise invalid(name, f"{name}: must fit in a signed 64-bit integer")
    return int(value) if integer else value


def to_image_part(block: JSON, where: str) -> ImagePart:
    source = mapping(block.get("source"), f"{where}.source")
    if source is None:
        raise invalid(f"{where}.source", f"{where}.source: Field required")
    kind = source.get("type")
    if kind == "base64":
        media_type = string(source.get("media_type"), f"{where}.source.media_type", required=True)
        if media_type not in IMAGE_TYPES:
            raise invalid(f"{where}.source.media_type", f"{where}.source.media_type: must be one of {sorted(IMAGE_TYPES)}")
        data = string(source.get("data"), f"{where}.source.data", required=True)
        return ImagePart(f"data:{media_type};base64,{data}", None, block.get("cache_control"))
    if kind == "url":
        return ImagePart(string(source.get("url"), f"{where}.source.url", required=True) or "", None, block.get("cache_control"))
    raise invalid(f"{where}.source.type", f"{where}.source.type: must be 'base64' or 'url'")


def to_file_part(block: JSON, where: str) -> ContentPart:
    source = mapping(block.get("source"), f"{where}.source") or {}
    kind = source.get("type")
    title = string(block.get("title"), f"{where}.title")
    if kind == "base64":
        media_type = string(source.get("media_type"), f"{where}.source.media_type", required=True)
        data = string(source.get("data"), f"{where}.source.data", required=True)
        return FilePart(title or "document.pdf", f"data:{media_type};base64,{data}")
    if kind == "url":
        return FilePart(title, string(source.get("url"), f"{where}.source.url", required=True))
    if kind == "text":
        return TextPart(string(source.get("data"), f"{where}.source.data", required=True) or "")
    raise invalid(f"{where}.source.type", f"{where}.source.type: must be 'base64', 'url' or 'text'")


def to_tool_result_content(raw: Any, where: str) -> str | list[ContentPart]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise invalid(where, f"{where}: must be a string or an array of content blocks")
    parts: list[ContentPart] = []
    for j, b in enumerate(raw):
        bw = f"{where}[{j}]"
        block = mapping(b, bw) or {}
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(string(block.get("text"), f"{bw}.text", required=False) or "", block.get("cache_control")))
        elif kind == "image":
            parts.append(to_image_part(block, bw))
        elif kind == "document":
            parts.append(to_file_part(block, bw))
        else:
            raise invalid(f"{bw}.type", f"{bw}.type: tool results hold text, image or document blocks, got {kind!r}")
    if all(isinstance(p, TextPart) and p.cache_control is None for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def joined(parts: list[ContentPart]) -> str | list[ContentPart]:
    """Plain text stays a string (what every upstream accepts); anything richer stays parts."""
    if all(isinstance(p, TextPart) and p.cache_control is None for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def to_user_messages(blocks: list[Any], where: str) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for j, b in enumerate(blocks):
        bw = f"{where}.content[{j}]"
        block = mapping(b, bw) or {}
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(string(block.get("text"), f"{bw}.text", required=False) or "", block.get("cache_control")))
        elif kind == "image":
            parts.append(to_image_part(block, bw))
        elif kind == "document":
            parts.append(to_file_part(block, bw))
        elif kind == "tool_result":
            tool_use_id = string(block.get("tool_use_id"), f"{bw}.tool_use_id", required=True)
            content = to_tool_result_content(block.get("content"), f"{bw}.content")
            if block.get("is_error") is True and isinstance(content, str):
                content = f"Error: {content}"
            results.append(Message(role="tool", content=content, tool_call_id=tool_use_id))
        else:
            raise invalid(f"{bw}.type", f"{bw}.type: a user turn holds text, image, document or tool_result blocks, got {kind!r}")
    if parts:
        results.append(Message(role="user", content=joined(parts)))
    return results


def unpacked(blob: str | None) -> JSON | None:
    """Another provider's detail that travelled through the client in a signature (opaque.py)."""
    value = unpack(blob)
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def to_assistant_message(blocks: list[Any], where: str) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    thinking: list[str] = []
    details: list[JSON] = []
    for j, b in enumerate(blocks):
        bw = f"{where}.content[{j}]"
        block = mapping(b, bw) or {}
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(string(block.get("text"), f"{bw}.text", required=False) or "", block.get("cache_control")))
        elif kind == "tool_use":
            args = block.get("input", {})
            if not isinstance(args, dict):
                raise invalid(f"{bw}.input", f"{bw}.input: must be an object")
            calls.append(
                ToolCall(
                    string(block.get("id"), f"{bw}.id", required=True) or "",
                    string(block.get("name"), f"{bw}.name", required=True) or "",
                    orjson.dumps(args).decode(),
                )
            )
        elif kind == "thinking":
            text = string(block.get("thinking"), f"{bw}.thinking", required=False) or ""
            thinking.append(text)
            signature = string(block.get("signature"), f"{bw}.signature")
            detail: JSON = unpacked(signature) or {"type": "reasoning.text", "text": text, "format": REASONING_FORMAT,
                                                   "index": len(details)}
            if signature and "signature" not in detail and detail.get("format") == REASONING_FORMAT:
                detail["signature"] = signature
            details.append(detail)
        elif kind == "redacted_thinking":
            data = string(block.get("data"), f"{bw}.data", required=True) or ""
            details.append(unpacked(data) or {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT,
                                              "index": len(details)})
        else:
            raise invalid(f"{bw}.type", f"{bw}.type: an assistant turn holds text, tool_use or thinking blocks, got {kind!r}")
    return Message(
        role="assistant",
        content=joined(parts) if parts else None,
        tool_calls=calls or None,
        reasoning="".join(thinking) or None,
        reasoning_details=details or None,
    )


def to_messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise invalid("messages", "messages: must be a non-empty array")
    out: list[Message] = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        msg = mapping(m, where) or {}
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"{where}.role", f"{where}.role: must be 'user' or 'assistant'")
        content = msg.get("content")
        if isinstance(content, str):
            out.append(Message(role=role, content=content))
            continue
        if not isinstance(content, list) or not content:
            raise invalid(f"{where}.content", f"{where}.content: must be a string or a non-empty array of content blocks")
        if role == "user":
            out.extend(to_user_messages(content, where))
        else:
            out.append(to_assistant_message(content, where))
    return out


def to_system_message(raw: Any) -> Message | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Message(role="system", content=raw) if raw else None
    if not isinstance(raw, list):
        raise invalid("system", "system: must be a string or an array of text blocks")
    parts: list[ContentPart] = []
    for j, b in enumerate(raw):
        block = mapping(b, f"system[{j}]") or {}
        if block.get("type") != "text":
            raise invalid(f"system[{j}].type", f"system[{j}].type: must be 'text'")
        parts.append(TextPart(string(block.get("text"), f"system[{j}].text", required=True) or "", block.get("cache_control")))
    return Message(role="system", content=joined(parts)) if parts else None


def to_tools(raw: Any) -> list[Tool] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise invalid("tools", "tools: must be an array")
    tools = []
    for i, t in enumerate(raw):
        where = f"tools[{i}]"
        tool = mapping(t, where) or {}
        kind = tool.get("type")
        if kind not in (None, "custom"):
            hint = " (Anthropic server tools run only on Anthropic)" if str(kind).startswith(SERVER_TOOL_PREFIXES) else ""
            raise invalid(f"{where}.type", f"{where}.type: only custom tools are supported, got {kind!r}{hint}")
        schema = mapping(tool.get("input_schema"), f"{where}.input_schema")
        if schema is None:
            raise invalid(f"{where}.input_schema", f"{where}.input_schema: Field required")
        tools.append(
            Tool(
                string(tool.get("name"), f"{where}.name", required=True) or "",
                string(tool.get("description"), f"{where}.description"),
                schema,
                boolean(tool, "strict", f"{where}.strict"),
            )
        )
    return tools


def to_tool_choice(raw: Any) -> tuple[ToolChoice | None, bool | None]:
    """The canonical tool choice and `parallel_tool_calls` (from `disable_parallel_tool_use`)."""
    choice = mapping(raw, "tool_choice")
    if choice is None:
        return None, None
    disable = boolean(choice, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    parallel = None if disable is None else not disable
    kind = choice.get("type")
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", parallel
    if kind == "tool":
        return NamedToolChoice(string(choice.get("name"), "tool_choice.name", required=True) or ""), parallel
    raise invalid("tool_choice.type", "tool_choice.type: must be 'auto', 'any', 'tool' or 'none'")


def to_reasoning(raw: Any, output: JSON) -> Reasoning | None:
    """`thinking` plus `output_config.effort`; `display: omitted` hides the thinking (still billed)."""
    thinking = mapping(raw, "thinking")
    effort = output.get("effort")
    if effort is not None and (not isinstance(effort, str) or effort not in EFFORTS):
        raise invalid("output_config.effort", f"output_config.effort: must be one of {sorted(EFFORTS)}")
    if thinking is None:
        return Reasoning(effort=effort) if effort else None
    kind = thinking.get("type")
    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise invalid("thinking.display", "thinking.display: must be 'summarized' or 'omitted'")
    if kind == "disabled":
        return Reasoning(enabled=False)
    if kind in ("adaptive", "between_tools"):
        return Reasoning(effort=effort, enabled=True, exclude=display == "omitted")
    if kind == "enabled":
        budget = bounded(thinking, "budget_tokens", 1024, None, integer=True)
        if budget is None:
            raise invalid("thinking.budget_tokens", "thinking.budget_tokens: Field required")
        return Reasoning(effort=effort, max_tokens=budget, enabled=True, exclude=display == "omitted")
    raise invalid("thinking.type", "thinking.type: must be 'enabled', 'disabled', 'adaptive' or 'between_tools'")


def to_response_format(output: JSON) -> ResponseFormat | None:
    fmt = mapping(output.get("format"), "output_config.format")
    if fmt is None:
        return None
    if fmt.get("type") != "json_schema":
        raise invalid("output_config.format.type", "output_config.format.type: must be 'json_schema'")
    schema = mapping(fmt.get("schema"), "output_config.format.schema")
    if schema is None:
        raise invalid("output_config.format.schema", "output_config.format.schema: Field required")
    return ResponseFormat("json_schema", "output", schema, True)


def to_stop(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise invalid("stop_sequences", "stop_sequences: must be an array of strings")
    return raw or None


def to_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    model = string(body.get("model"), "model", required=True) or ""
    for name in ("mcp_servers", "container"):
        if body.get(name):
            raise invalid(name, f"{name}: runs only on Anthropic's own platform; this gateway cannot honour it")
    max_tokens = bounded(body, "max_tokens", 1, None, integer=True)
    if max_tokens is None:
        raise invalid("max_tokens", "max_tokens: Field required")
    messages = to_messages(body.get("messages"))
    system = to_system_message(body.get("system"))
    if system is not None:
        messages.insert(0, system)
    tool_choice, parallel = to_tool_choice(body.get("tool_choice"))
    output = mapping(body.get("output_config"), "output_config") or {}
    reasoning = to_reasoning(body.get("thinking"), output)
    if reasoning is not None and reasoning.max_tokens is not None and reasoning.max_tokens >= max_tokens:
        raise invalid("thinking.budget_tokens", "thinking.budget_tokens: must be less than max_tokens")
    metadata = mapping(body.get("metadata"), "metadata") or {}
    models = body.get("models")
    if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
        raise invalid("models", "models: must be an array of model ids")
    return ChatRequest(
        model=model,
        messages=messages,
        stream=boolean(body, "stream") or False,
        max_tokens=max_tokens,
        temperature=bounded(body, "temperature", 0, 1),
        top_p=bounded(body, "top_p", 0, 1),
        top_k=bounded(body, "top_k", 0, None, integer=True),
        stop=to_stop(body.get("stop_sequences")),
        tools=to_tools(body.get("tools")),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        reasoning=reasoning,
        response_format=to_response_format(output),
        user=string(metadata.get("user_id"), "metadata.user_id"),
        models=models,
        provider=mapping(body.get("provider"), "provider"),
    )
