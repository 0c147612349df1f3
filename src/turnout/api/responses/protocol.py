"""OpenAI Responses requests (the stateless subset) -> a validated canonical `ChatRequest`.

Wire reference: https://platform.openai.com/docs/api-reference/responses/create. The body is decoded
into the declared wire types (api/responses/wire.py); errors name the parameter by its JSON path.
What maps where:

  instructions                          -> a leading system message (never carried over by
                                           previous_response_id, as OpenAI documents)
  input: string                         -> one user message
  input: message items (easy or typed)  -> messages; input_text / output_text / input_image /
                                           input_file parts -> text, image and file parts
  function_call items                   -> tool_calls on one assistant message
  function_call_output items            -> tool messages
  reasoning items                       -> reasoning / reasoning_details on the next assistant turn
                                           (restored exactly from `encrypted_content` when this
                                           gateway wrote it, see api/anthropic/opaque.py)
  tools [{type: function, name, ...}]   -> tools (the flat Responses shape)
  reasoning {effort, summary}           -> reasoning {effort}
  text.format json_schema / json_object -> response_format
  max_output_tokens -> max_tokens

Server-side state beyond `previous_response_id` (conversations, file ids, built-in tools such as
web_search or file_search) is not supported; those requests get a 400 naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.api.anthropic.opaque import unpack
from turnout.api.openai.protocol import parse_plugins, with_server_tools, without_server_tools
from turnout.api.responses import wire
from turnout.api.wire import convert, integral
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


@dataclass(slots=True)
class ResponsesRequest:
    """The canonical request plus what the Responses object echoes back and the store needs."""

    chat: ChatRequest
    input_messages: list[Message]  # the conversation so far, without `instructions`
    instructions: str | None
    previous_response_id: str | None
    store: bool
    reasoning_summary: str | None
    text_format: JSON
    tools_wire: list[JSON]
    tool_choice_wire: Any
    metadata: JSON


def to_part(part: wire.Part, where: str) -> ContentPart:
    if isinstance(part, (wire.InputText, wire.OutputText, wire.PlainText)):
        return TextPart(part.text or "")
    if isinstance(part, wire.Refusal):
        return TextPart(part.refusal or "")
    if isinstance(part, wire.InputImage):
        if part.file_id is not None:
            raise invalid(f"{where}.file_id", f"'{where}.file_id' is not supported; send image_url (an http(s) or data: URL)")
        if not part.image_url:
            raise invalid(f"{where}.image_url", f"'{where}.image_url' must be a non-empty string")
        return ImagePart(part.image_url, part.detail)
    if part.file_id is not None:
        raise invalid(f"{where}.file_id", f"'{where}.file_id' is not supported; send file_data or file_url")
    data = part.file_data or part.file_url
    if data is None:
        raise invalid(f"{where}.file_data", f"'{where}' needs file_data or file_url")
    return FilePart(part.filename, data)


def to_content(raw: wire.Content, where: str) -> str | list[ContentPart]:
    if isinstance(raw, str):
        return raw
    parts = [to_part(p, f"{where}[{j}]") for j, p in enumerate(raw)]
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def reasoning_of(item: wire.ReasoningItem) -> tuple[str | None, list[JSON]]:
    texts = [t.text or "" for t in (*(item.summary or ()), *(item.content or ()))]
    encrypted = item.encrypted_content
    packed = unpack(encrypted)
    if isinstance(packed, list) and all(isinstance(d, dict) for d in packed):
        return "".join(texts) or None, packed  # the details exactly as the provider gave them
    details: list[JSON] = [{"type": "reasoning.text", "text": t, "index": i} for i, t in enumerate(texts)]
    if encrypted:
        details.append({"type": "reasoning.encrypted", "data": encrypted, "index": len(details)})
    return "".join(texts) or None, details


def to_messages(raw: str | list[wire.Item]) -> list[Message]:
    if isinstance(raw, str):
        return [Message(role="user", content=raw)]
    out: list[Message] = []
    pending_reasoning: tuple[str | None, list[JSON]] | None = None

    def assistant() -> Message:
        """The assistant turn that function calls and reasoning attach to (a new one if needed)."""
        nonlocal pending_reasoning
        last = out[-1] if out else None
        if last is None or last.role != "assistant" or pending_reasoning is not None:
            last = Message(role="assistant", content=None)
            out.append(last)
        if pending_reasoning is not None:
            last.reasoning, last.reasoning_details = pending_reasoning[0], pending_reasoning[1] or None
            pending_reasoning = None
        return last

    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if isinstance(item, wire.MessageItem):
            content = to_content(item.content, f"{where}.content")
            if item.role == "assistant":
                msg = assistant()
                if msg.content or msg.tool_calls:
                    msg = Message(role="assistant")
                    out.append(msg)
                msg.content = content
            else:
                out.append(Message(role=item.role, content=content))
        elif isinstance(item, wire.FunctionCallItem):
            msg = assistant()
            msg.tool_calls = [*(msg.tool_calls or ()), ToolCall(item.call_id, item.name, item.arguments or "")]
        elif isinstance(item, wire.FunctionCallOutputItem):
            out.append(Message(role="tool", content=to_content(item.output, f"{where}.output"), tool_call_id=item.call_id))
        elif isinstance(item, wire.ReasoningItem):
            text, details = reasoning_of(item)
            last = out[-1] if out else None
            if last is not None and last.role == "assistant" and pending_reasoning is None:
                # Still the assistant's turn (reasoning after its calls, e.g. a Gemini signature): same turn.
                last.reasoning = (last.reasoning or "") + (text or "") or None
                last.reasoning_details = [*(last.reasoning_details or ()), *details] or None
            else:
                pending_reasoning = (text, details)
        else:
            raise invalid(f"{where}.type", "item references are not supported; use previous_response_id or send the items")
    return out


def to_tools(raw: list[wire.FunctionTool] | None) -> list[Tool] | None:
    if raw is None:
        return None
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if tool.type != "function":
            raise invalid(f"{where}.type", f"only function tools are supported, got {tool.type!r} at '{where}.type'")
        if not tool.name:
            raise invalid(f"{where}.name", f"'{where}.name' must be a non-empty string")
        tools.append(Tool(tool.name, tool.description, tool.parameters, tool.strict))
    return tools or None


def to_tool_choice(raw: Any) -> ToolChoice | None:
    if isinstance(raw, wire.NamedFunctionChoice):
        return NamedToolChoice(raw.name)
    return raw  # type: ignore[no-any-return]  # None or one of the declared literals


def to_response_format(text: wire.TextConfig | None) -> ResponseFormat | None:
    fmt = text.format if text is not None else None
    if fmt is None or isinstance(fmt, wire.TextFormatText):
        return None
    if isinstance(fmt, wire.TextFormatJsonObject):
        return ResponseFormat("json_object")
    return ResponseFormat("json_schema", fmt.name, fmt.schema, fmt.strict)


def to_reasoning(r: wire.ReasoningConfig | None) -> tuple[Reasoning | None, str | None]:
    if r is None:
        return None, None
    summary = r.summary if r.summary is not None else r.generate_summary
    reasoning = Reasoning(effort=r.effort, enabled=True if r.effort is None and summary is not None else None)
    return reasoning, summary


def to_responses_request(body: Any, history: list[Message] | None = None) -> ResponsesRequest:
    """`history` is the stored conversation of `previous_response_id`, when there is one."""
    if isinstance(body, dict):
        for name in ("conversation", "prompt", "background"):
            if body.get(name):
                raise invalid(name, f"'{name}' is not supported by this gateway (stateless Responses subset)")
        body = integral(wire.with_message_type(body), ("top_logprobs",))
    tools_wire = (body.get("tools") if isinstance(body, dict) else None) or []  # echoed as sent
    # the built-in web_search tool and openrouter:web_search run in turnout, for every model
    body, server_tools = without_server_tools(body)
    w = convert(body, wire.ResponsesBody)
    input_messages = [*(history or ()), *to_messages(w.input)]
    messages = list(input_messages)
    if w.instructions:
        messages.insert(0, Message(role="system", content=w.instructions))
    reasoning, summary = to_reasoning(w.reasoning)
    chat = ChatRequest(
        model=w.model,
        messages=messages,
        stream=bool(w.stream),
        max_tokens=w.max_output_tokens,
        temperature=w.temperature,
        top_p=w.top_p,
        top_logprobs=w.top_logprobs,
        response_format=to_response_format(w.text),
        tools=to_tools(w.tools),
        tool_choice=to_tool_choice(w.tool_choice),
        parallel_tool_calls=w.parallel_tool_calls,
        reasoning=reasoning,
        user=w.user or w.safety_identifier,
        provider=w.provider,
        plugins=with_server_tools(parse_plugins(body.get("plugins")), server_tools),
    )
    text = body.get("text") or {}
    return ResponsesRequest(
        chat=chat,
        input_messages=input_messages,
        instructions=w.instructions,
        previous_response_id=w.previous_response_id,
        store=w.store is not False,
        reasoning_summary=summary,
        text_format=text.get("format") or {"type": "text"},
        tools_wire=tools_wire,
        tool_choice_wire=body.get("tool_choice", "auto"),
        metadata=w.metadata or {},
    )
