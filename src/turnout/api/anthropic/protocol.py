"""Anthropic Messages requests -> a validated canonical `ChatRequest`.

Wire reference: https://docs.anthropic.com/en/api/messages. The body is decoded into the declared
wire types (api/anthropic/wire.py); each error is a 400 that names the parameter by its JSON path,
as `messages[1].content[0].source.media_type`. What maps where:

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

from turnout.api.anthropic import wire
from turnout.api.anthropic.opaque import unpack
from turnout.api.openai.protocol import parse_plugins, with_server_tools, without_server_tools
from turnout.api.wire import convert, integral
from turnout.core.routing.sticky import session_id
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
# Server tools run by Anthropic itself; no other provider can run them.
SERVER_TOOL_PREFIXES = ("web_search_", "web_fetch_", "code_execution_", "computer_", "bash_", "text_editor_",
                        "memory_", "tool_search_")
USER_BLOCKS = (wire.TextBlock, wire.ImageBlock, wire.DocumentBlock, wire.ToolResultBlock)
ASSISTANT_BLOCKS = (wire.TextBlock, wire.ToolUseBlock, wire.ThinkingBlock, wire.RedactedThinkingBlock)


def to_image_part(block: wire.ImageBlock) -> ImagePart:
    source = block.source
    if isinstance(source, wire.Base64ImageSource):
        return ImagePart(f"data:{source.media_type};base64,{source.data}", None, block.cache_control)
    return ImagePart(source.url, None, block.cache_control)


def to_file_part(block: wire.DocumentBlock) -> ContentPart:
    source = block.source
    if isinstance(source, wire.Base64DocumentSource):
        return FilePart(block.title or "document.pdf", f"data:{source.media_type};base64,{source.data}")
    if isinstance(source, wire.UrlDocumentSource):
        return FilePart(block.title, source.url)
    return TextPart(source.data)


def to_part(block: wire.TextBlock | wire.ImageBlock | wire.DocumentBlock) -> ContentPart:
    if isinstance(block, wire.TextBlock):
        return TextPart(block.text or "", block.cache_control)
    if isinstance(block, wire.ImageBlock):
        return to_image_part(block)
    return to_file_part(block)


def joined(parts: list[ContentPart]) -> str | list[ContentPart]:
    """Plain text stays a string (what every upstream accepts); anything richer stays parts."""
    if all(isinstance(p, TextPart) and p.cache_control is None for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def to_tool_result_content(raw: str | list[wire.TextBlock | wire.ImageBlock | wire.DocumentBlock] | None
                           ) -> str | list[ContentPart]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return joined([to_part(b) for b in raw])


def to_user_messages(blocks: list[wire.Block], where: str) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for j, block in enumerate(blocks):
        if isinstance(block, wire.ToolResultBlock):
            content = to_tool_result_content(block.content)
            if block.is_error is True and isinstance(content, str):
                content = f"Error: {content}"
            results.append(Message(role="tool", content=content, tool_call_id=block.tool_use_id))
        elif isinstance(block, USER_BLOCKS):
            parts.append(to_part(block))
        else:
            bw = f"{where}.content[{j}]"
            raise invalid(f"{bw}.type", f"{bw}.type: a user turn holds text, image, document or tool_result blocks, "
                                        f"got {type(block).__struct_config__.tag!r}")
    if parts:
        results.append(Message(role="user", content=joined(parts)))
    return results


def unpacked(blob: str | None) -> JSON | None:
    """Another provider's detail that travelled through the client in a signature (opaque.py)."""
    value = unpack(blob)
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def to_assistant_message(blocks: list[wire.Block], where: str) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    thinking: list[str] = []
    details: list[JSON] = []
    for j, block in enumerate(blocks):
        if isinstance(block, wire.TextBlock):
            parts.append(TextPart(block.text or "", block.cache_control))
        elif isinstance(block, wire.ToolUseBlock):
            calls.append(ToolCall(block.id, block.name, orjson.dumps(block.input).decode()))
        elif isinstance(block, wire.ThinkingBlock):
            text = block.thinking or ""
            thinking.append(text)
            signature = block.signature
            detail: JSON = unpacked(signature) or {"type": "reasoning.text", "text": text, "format": REASONING_FORMAT,
                                                   "index": len(details)}
            if signature and "signature" not in detail and detail.get("format") == REASONING_FORMAT:
                detail["signature"] = signature
            details.append(detail)
        elif isinstance(block, wire.RedactedThinkingBlock):
            details.append(unpacked(block.data) or {"type": "reasoning.encrypted", "data": block.data,
                                                    "format": REASONING_FORMAT, "index": len(details)})
        else:
            bw = f"{where}.content[{j}]"
            raise invalid(f"{bw}.type", f"{bw}.type: an assistant turn holds text, tool_use or thinking blocks, "
                                        f"got {type(block).__struct_config__.tag!r}")
    return Message(
        role="assistant",
        content=joined(parts) if parts else None,
        tool_calls=calls or None,
        reasoning="".join(thinking) or None,
        reasoning_details=details or None,
    )


def to_messages(raw: list[wire.MessageParam]) -> list[Message]:
    out: list[Message] = []
    for i, m in enumerate(raw):
        if isinstance(m.content, str):
            out.append(Message(role=m.role, content=m.content))
        elif m.role == "user":
            out.extend(to_user_messages(m.content, f"messages[{i}]"))
        else:
            out.append(to_assistant_message(m.content, f"messages[{i}]"))
    return out


def to_system_message(raw: str | list[wire.SystemText] | None) -> Message | None:
    if not raw:
        return None
    if isinstance(raw, str):
        return Message(role="system", content=raw)
    return Message(role="system", content=joined([TextPart(b.text, b.cache_control) for b in raw]))


def to_tools(raw: list[wire.ToolParam] | None) -> list[Tool] | None:
    if raw is None:
        return None
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if tool.type not in (None, "custom"):
            hint = " (Anthropic server tools run only on Anthropic)" if tool.type.startswith(SERVER_TOOL_PREFIXES) else ""
            raise invalid(f"{where}.type", f"{where}.type: only custom tools are supported, got {tool.type!r}{hint}")
        if tool.input_schema is None:
            raise invalid(f"{where}.input_schema", f"{where}.input_schema: Field required")
        tools.append(Tool(tool.name, tool.description, tool.input_schema, tool.strict))
    return tools


def to_tool_choice(choice: wire.ToolChoice | None) -> tuple[ToolChoice | None, bool | None]:
    """The canonical tool choice and `parallel_tool_calls` (from `disable_parallel_tool_use`)."""
    if choice is None:
        return None, None
    disable = choice.disable_parallel_tool_use
    parallel = None if disable is None else not disable
    if isinstance(choice, wire.ToolChoiceTool):
        return NamedToolChoice(choice.name), parallel
    canonical: ToolChoice = ("auto" if isinstance(choice, wire.ToolChoiceAuto)
                             else "required" if isinstance(choice, wire.ToolChoiceAny) else "none")
    return canonical, parallel


def to_reasoning(thinking: wire.Thinking | None, output: wire.OutputConfig) -> Reasoning | None:
    """`thinking` plus `output_config.effort`; `display: omitted` hides the thinking (still billed)."""
    effort = output.effort
    if thinking is None:
        return Reasoning(effort=effort) if effort else None
    if isinstance(thinking, wire.ThinkingDisabled):
        return Reasoning(enabled=False)
    hidden = thinking.display == "omitted"
    if isinstance(thinking, wire.ThinkingEnabled):
        return Reasoning(effort=effort, max_tokens=thinking.budget_tokens, enabled=True, exclude=hidden)
    return Reasoning(effort=effort, enabled=True, exclude=hidden)


def to_response_format(output: wire.OutputConfig) -> ResponseFormat | None:
    if output.format is None:
        return None
    return ResponseFormat("json_schema", "output", output.format.schema, True)


def to_chat_request(body: Any) -> ChatRequest:
    if isinstance(body, dict):  # what only Anthropic can run, named before any type error
        for name in ("mcp_servers", "container"):
            if body.get(name):
                raise invalid(name, f"{name}: runs only on Anthropic's own platform; this gateway cannot honour it")
        body = integral(body, ("max_tokens", "top_k"))
        if isinstance(body.get("thinking"), dict):
            body = {**body, "thinking": integral(body["thinking"], ("budget_tokens",))}
    body, server_tools = without_server_tools(body)
    w = convert(body, wire.MessagesBody)
    messages = to_messages(w.messages)
    system = to_system_message(w.system)
    if system is not None:
        messages.insert(0, system)
    tool_choice, parallel = to_tool_choice(w.tool_choice)
    output = w.output_config or wire.OutputConfig()
    reasoning = to_reasoning(w.thinking, output)
    if reasoning is not None and reasoning.max_tokens is not None and reasoning.max_tokens >= w.max_tokens:
        raise invalid("thinking.budget_tokens", "thinking.budget_tokens: must be less than max_tokens")
    return ChatRequest(
        model=w.model,
        messages=messages,
        stream=bool(w.stream),
        max_tokens=w.max_tokens,
        temperature=w.temperature,
        top_p=w.top_p,
        top_k=w.top_k,
        stop=w.stop_sequences or None,
        tools=to_tools(w.tools),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        reasoning=reasoning,
        response_format=to_response_format(output),
        user=w.metadata.user_id if w.metadata else None,
        models=w.models,
        provider=w.provider,
        # web_search_* (Anthropic's server tool) and openrouter:web_search run in turnout, for every model
        plugins=with_server_tools(parse_plugins(body.get("plugins")), server_tools),
        session_id=session_id(body),
    )
