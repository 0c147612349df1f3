"""OpenAI Responses requests (the stateless subset) -> a validated canonical `ChatRequest`.

Wire reference: https://platform.openai.com/docs/api-reference/responses/create. What maps where:

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
from typing import Any, cast

from turnout.api.anthropic.opaque import unpack
from turnout.api.openai.protocol import (
    EFFORTS,
    boolean,
    int64,
    mapping,
    number,
    parse_plugins,
    string,
    with_server_tools,
)
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
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from turnout.model.errors import invalid
from turnout.plugins.spec import split_server_tools

ROLES = frozenset({"user", "assistant", "system", "developer"})


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


def to_part(raw: Any, where: str) -> ContentPart:
    part = mapping(raw, where) or {}
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return TextPart(string(part.get("text"), f"{where}.text", required=False) or "")
    if kind == "refusal":
        return TextPart(string(part.get("refusal"), f"{where}.refusal", required=False) or "")
    if kind == "input_image":
        if part.get("file_id") is not None:
            raise invalid(f"{where}.file_id", f"'{where}.file_id' is not supported; send image_url (an http(s) or data: URL)")
        url = string(part.get("image_url"), f"{where}.image_url", required=True) or ""
        detail = part.get("detail")
        if detail is not None and detail not in ("auto", "low", "high"):
            raise invalid(f"{where}.detail", f"'{where}.detail' must be auto, low or high")
        return ImagePart(url, detail)
    if kind == "input_file":
        if part.get("file_id") is not None:
            raise invalid(f"{where}.file_id", f"'{where}.file_id' is not supported; send file_data or file_url")
        data = string(part.get("file_data"), f"{where}.file_data") or string(part.get("file_url"), f"{where}.file_url")
        if data is None:
            raise invalid(f"{where}.file_data", f"'{where}' needs file_data or file_url")
        return FilePart(string(part.get("filename"), f"{where}.filename"), data)
    raise invalid(f"{where}.type", f"unknown content part type {kind!r} at '{where}'")


def to_content(raw: Any, where: str) -> str | list[ContentPart]:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise invalid(where, f"'{where}' must be a string or an array of content parts")
    parts = [to_part(p, f"{where}[{j}]") for j, p in enumerate(raw)]
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return parts


def reasoning_texts(raw: Any, where: str) -> list[str]:
    """The texts of a reasoning item's `summary` or `content` parts (an array of {text} objects)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid(where, f"'{where}' must be an array")
    texts = []
    for j, part in enumerate(raw):
        if isinstance(part, dict):
            texts.append(string(part.get("text"), f"{where}[{j}].text") or "")
    return texts


def reasoning_of(item: JSON, where: str) -> tuple[str | None, list[JSON]]:
    texts = reasoning_texts(item.get("summary"), f"{where}.summary")
    texts += reasoning_texts(item.get("content"), f"{where}.content")
    encrypted = string(item.get("encrypted_content"), f"{where}.encrypted_content")
    packed = unpack(encrypted)
    if isinstance(packed, list) and all(isinstance(d, dict) for d in packed):
        return "".join(texts) or None, packed  # the details exactly as the provider gave them
    details: list[JSON] = [{"type": "reasoning.text", "text": t, "index": i} for i, t in enumerate(texts)]
    if encrypted:
        details.append({"type": "reasoning.encrypted", "data": encrypted, "index": len(details)})
    return "".join(texts) or None, details


def to_messages(raw: Any) -> list[Message]:
    if isinstance(raw, str):
        return [Message(role="user", content=raw)]
    if not isinstance(raw, list) or not raw:
        raise invalid("input", "'input' must be a string or a non-empty array of items")
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

    for i, r in enumerate(raw):
        where = f"input[{i}]"
        item = mapping(r, where) or {}
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if not isinstance(role, str) or role not in ROLES:
                raise invalid(f"{where}.role", f"'{where}.role' must be one of {sorted(ROLES)}")
            content = to_content(item.get("content"), f"{where}.content")
            if role == "assistant":
                msg = assistant()
                if msg.content or msg.tool_calls:
                    msg = Message(role="assistant")
                    out.append(msg)
                msg.content = content
            else:
                out.append(Message(role=cast(Role, role), content=content))
        elif kind == "function_call":
            call = ToolCall(
                string(item.get("call_id"), f"{where}.call_id", required=True) or "",
                string(item.get("name"), f"{where}.name", required=True) or "",
                string(item.get("arguments"), f"{where}.arguments", required=False) or "",
            )
            msg = assistant()
            msg.tool_calls = [*(msg.tool_calls or ()), call]
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else to_content(output, f"{where}.output")
            out.append(Message(role="tool", content=content,
                               tool_call_id=string(item.get("call_id"), f"{where}.call_id", required=True)))
        elif kind == "reasoning":
            text, details = reasoning_of(item, where)
            last = out[-1] if out else None
            if last is not None and last.role == "assistant" and pending_reasoning is None:
                # Still the assistant's turn (reasoning after its calls, e.g. a Gemini signature): same turn.
                last.reasoning = (last.reasoning or "") + (text or "") or None
                last.reasoning_details = [*(last.reasoning_details or ()), *details] or None
            else:
                pending_reasoning = (text, details)
        elif kind == "item_reference":
            raise invalid(f"{where}.type", "item references are not supported; use previous_response_id or send the items")
        else:
            raise invalid(f"{where}.type", f"unsupported input item type {kind!r} at '{where}'")
    return out


def to_tools(raw: Any) -> tuple[list[Tool] | None, list[JSON]]:
    if raw is None:
        return None, []
    if not isinstance(raw, list):
        raise invalid("tools", "'tools' must be an array")
    tools = []
    for i, t in enumerate(raw):
        where = f"tools[{i}]"
        tool = mapping(t, where) or {}
        if tool.get("type") != "function":
            raise invalid(f"{where}.type", f"only function tools are supported, got {tool.get('type')!r} at '{where}.type'")
        tools.append(
            Tool(
                string(tool.get("name"), f"{where}.name", required=True) or "",
                string(tool.get("description"), f"{where}.description"),
                mapping(tool.get("parameters"), f"{where}.parameters"),
                boolean(tool, "strict", f"{where}.strict"),
            )
        )
    return tools or None, raw


def to_tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return raw  # type: ignore[no-any-return]
    if isinstance(raw, dict) and raw.get("type") == "function":
        return NamedToolChoice(string(raw.get("name"), "tool_choice.name", required=True) or "")
    raise invalid("tool_choice", "'tool_choice' must be none, auto, required or {type: function, name}")


def to_response_format(text: JSON) -> ResponseFormat | None:
    fmt = mapping(text.get("format"), "text.format")
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind == "json_schema":
        schema = mapping(fmt.get("schema"), "text.format.schema")
        if schema is None:
            raise invalid("text.format.schema", "'text.format.schema' is required")
        return ResponseFormat("json_schema", string(fmt.get("name"), "text.format.name"), schema,
                              boolean(fmt, "strict", "text.format.strict"))
    raise invalid("text.format.type", "'text.format.type' must be text, json_object or json_schema")


def to_reasoning(raw: Any) -> tuple[Reasoning | None, str | None]:
    r = mapping(raw, "reasoning")
    if r is None:
        return None, None
    effort = r.get("effort")
    if effort is not None and (not isinstance(effort, str) or effort not in EFFORTS):
        raise invalid("reasoning.effort", f"'reasoning.effort' must be one of {sorted(EFFORTS)}")
    summary = r.get("summary", r.get("generate_summary"))
    if summary is not None and summary not in ("auto", "concise", "detailed"):
        raise invalid("reasoning.summary", "'reasoning.summary' must be auto, concise or detailed")
    reasoning = Reasoning(effort=effort, enabled=True if effort is None and summary is not None else None)
    return reasoning, summary


def to_metadata(raw: Any) -> JSON:
    """Up to 16 string pairs (keys up to 64 characters, values up to 512), as OpenAI documents:
    echoed in the response object, and kept with it when stored."""
    metadata = mapping(raw, "metadata") or {}
    if len(metadata) > 16 or not all(
        len(k) <= 64 and isinstance(v, str) and len(v) <= 512 for k, v in metadata.items()
    ):
        raise invalid("metadata", "'metadata' holds at most 16 string values of at most 512 characters, "
                                  "with keys of at most 64")
    return metadata


def to_responses_request(body: Any, history: list[Message] | None = None) -> ResponsesRequest:
    """`history` is the stored conversation of `previous_response_id`, when there is one."""
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    for name in ("conversation", "prompt", "background"):
        if body.get(name):
            raise invalid(name, f"'{name}' is not supported by this gateway (stateless Responses subset)")
    model = string(body.get("model"), "model", required=True) or ""
    input_messages = [*(history or ()), *to_messages(body.get("input"))]
    instructions = string(body.get("instructions"), "instructions")
    messages = list(input_messages)
    if instructions:
        messages.insert(0, Message(role="system", content=instructions))
    text = mapping(body.get("text"), "text") or {}
    # the built-in web_search tool and openrouter:web_search run in turnout, for every model
    tools_raw, server_tools = split_server_tools(body.get("tools"))
    tools, _ = to_tools(tools_raw)
    tools_wire = body.get("tools") or []
    reasoning, summary = to_reasoning(body.get("reasoning"))
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and (not int64(max_tokens) or max_tokens < 1):
        raise invalid("max_output_tokens", "'max_output_tokens' must be a positive integer")
    metadata = to_metadata(body.get("metadata"))
    chat = ChatRequest(
        model=model,
        messages=messages,
        stream=boolean(body, "stream") or False,
        max_tokens=max_tokens,
        temperature=number(body, "temperature"),
        top_p=number(body, "top_p"),
        top_logprobs=number(body, "top_logprobs"),
        response_format=to_response_format(text),
        tools=tools,
        tool_choice=to_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=boolean(body, "parallel_tool_calls"),
        reasoning=reasoning,
        user=string(body.get("user") or body.get("safety_identifier"), "user"),
        provider=mapping(body.get("provider"), "provider"),
        plugins=with_server_tools(parse_plugins(body.get("plugins")), server_tools),
    )
    store = boolean(body, "store")
    return ResponsesRequest(
        chat=chat,
        input_messages=input_messages,
        instructions=instructions,
        previous_response_id=string(body.get("previous_response_id"), "previous_response_id"),
        store=store is not False,
        reasoning_summary=summary,
        text_format=mapping(text.get("format"), "text.format") or {"type": "text"},
        tools_wire=tools_wire,
        tool_choice_wire=body.get("tool_choice", "auto"),
        metadata=metadata,
    )
