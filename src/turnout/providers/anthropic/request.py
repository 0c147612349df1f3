"""Canonical `ChatRequest` -> Anthropic Messages request body (docs.anthropic.com/en/api/messages).

System and developer messages become the top-level `system` blocks; `tool` messages become
`tool_result` blocks in a user turn; assistant tool calls become `tool_use` blocks; consecutive
turns of one role are merged, as Anthropic requires alternation. `reasoning_details` that came
from Anthropic (`format: anthropic-claude-v1`) go back as `thinking`/`redacted_thinking` blocks,
unchanged, ahead of the assistant's text. `cache_control` on parts passes through.
`response_format` json_schema becomes `output_config.format`; json_object, which Anthropic has
no mode for, becomes one system instruction.
"""

from __future__ import annotations

import math
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

REASONING_FORMAT = "anthropic-claude-v1"
# The request parameters this dialect carries to Anthropic; endpoints must not advertise others.
SUPPORTED_PARAMETERS = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "stop", "tools", "tool_choice", "parallel_tool_calls",
     "reasoning", "include_reasoning", "response_format", "structured_outputs"}
)
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; a provider's `options.max_tokens` overrides
# OpenRouter's effort -> share of max_tokens given to thinking.
EFFORT_RATIOS: Mapping[str, float] = {
    "max": 0.95, "xhigh": 0.95, "high": 0.8, "medium": 0.5, "low": 0.2, "minimal": 0.1,
}
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
MIN_BUDGET = 1024
MAX_BUDGET = 128_000


def thinking_budget(reasoning: Reasoning, max_tokens: int) -> int:
    """OpenRouter's rule: budget = max(min(max_tokens * ratio, 128000), 1024); an explicit budget wins."""
    if reasoning.max_tokens:
        return max(reasoning.max_tokens, MIN_BUDGET)
    ratio = EFFORT_RATIOS.get(reasoning.effort or "medium", EFFORT_RATIOS["medium"])
    return max(min(math.floor(max_tokens * ratio), MAX_BUDGET), MIN_BUDGET)


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a base64 data: URL, else None."""
    if not url.startswith("data:"):
        return None
    head, _, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if encoding != "base64" or not data:
        return None
    return media_type or "application/octet-stream", data


def to_anthropic_block(part: ContentPart, where: str) -> JSON:
    block: JSON
    match part:
        case TextPart(text=text):
            block = {"type": "text", "text": text}
        case ImagePart(url=url):
            inline = split_data_url(url)
            if inline is not None:
                block = {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
            elif url.startswith(("http://", "https://")):
                block = {"type": "image", "source": {"type": "url", "url": url}}
            else:
                raise invalid(where, f"'{where}': an image must be an http(s) URL or a base64 data: URL")
        case FilePart(file_data=data) if data:
            inline = split_data_url(data)
            if inline is not None:
                block = {"type": "document", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
            else:
                block = {"type": "document", "source": {"type": "url", "url": data}}
        case FilePart() | AudioPart() | VideoPart():
            raise invalid(where, f"'{where}': Anthropic takes text, images and documents (file_data), not this part")
        case _:
            raise AssertionError(part)
    cache = getattr(part, "cache_control", None)
    if cache is not None:
        block["cache_control"] = cache
    return block


def to_anthropic_blocks(content: str | list[ContentPart] | None, where: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    # Anthropic rejects empty text blocks; an empty one that only carries cache_control is kept.
    return [
        to_anthropic_block(p, f"{where}[{j}]")
        for j, p in enumerate(content)
        if not (isinstance(p, TextPart) and not p.text and p.cache_control is None)
    ]


def to_thinking_blocks(message: Message) -> list[JSON]:
    """The assistant's earlier thinking, from the `reasoning_details` Anthropic produced.

    Details arrive merged (one per block, as OpenRouter's SDKs accumulate them) or as the raw
    stream deltas (text pieces, then a signature, all with one `index`): both make one block.
    """
    merged: dict[tuple[str, object], JSON] = {}
    for n, d in enumerate(message.reasoning_details or ()):
        if d.get("format") not in (REASONING_FORMAT, None):
            continue
        kind = d.get("type")
        if kind == "reasoning.text":
            block = merged.setdefault(("text", d.get("index", n)), {"type": "thinking", "thinking": "", "signature": None})
            block["thinking"] += d.get("text") or ""
            block["signature"] = d.get("signature") or block["signature"]
        elif kind == "reasoning.encrypted" and d.get("data"):
            merged[("data", d.get("index", n))] = {"type": "redacted_thinking", "data": d["data"]}
    return [b for b in merged.values() if b["type"] == "redacted_thinking" or b["signature"]]


def tool_input(arguments: str, where: str) -> Any:
    if not arguments.strip():
        return {}
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise invalid(where, f"'{where}' is not valid JSON") from None


def to_anthropic_messages(messages: list[Message]) -> tuple[list[JSON], list[JSON]]:
    """(system blocks, messages) with consecutive same-role turns merged."""
    system: list[JSON] = []
    turns: list[JSON] = []

    def add(role: str, blocks: list[JSON]) -> None:
        if not blocks:
            return  # Anthropic rejects empty turns
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for i, m in enumerate(messages):
        where = f"messages[{i}].content"
        if m.role in ("system", "developer"):
            system.extend(to_anthropic_blocks(m.content, where))
        elif m.role == "user":
            add("user", to_anthropic_blocks(m.content, where))
        elif m.role == "tool":
            result: JSON = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
            if isinstance(m.content, list):
                result["content"] = to_anthropic_blocks(m.content, where)
            else:
                result["content"] = m.content or ""
            add("user", [result])
        else:
            blocks = to_thinking_blocks(m) + to_anthropic_blocks(m.content, where)
            for j, call in enumerate(m.tool_calls or ()):
                args = tool_input(call.arguments, f"messages[{i}].tool_calls[{j}].function.arguments")
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
            add("assistant", blocks)
    return system, turns


def to_anthropic_body(request: ChatRequest, model: str, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> JSON:
    system, messages = to_anthropic_messages(request.messages)
    body: JSON = {"model": model, "messages": messages}
    if system:
        body["system"] = system
    max_tokens = request.max_tokens or default_max_tokens
    r = request.reasoning
    # Anthropic refuses thinking with a forced tool choice; the forced tool wins.
    forced = request.tools and (request.tool_choice == "required" or isinstance(request.tool_choice, NamedToolChoice))
    thinking = r is not None and r.active and not forced
    if r is not None and thinking:
        budget = thinking_budget(r, max_tokens)
        if budget >= max_tokens:  # Anthropic requires budget_tokens < max_tokens
            max_tokens = budget + (request.max_tokens or default_max_tokens)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    body["max_tokens"] = max_tokens
    if request.temperature is not None and not thinking:  # thinking allows only the default
        body["temperature"] = min(1.0, request.temperature)
    if request.top_p is not None:
        body["top_p"] = max(0.95, request.top_p) if thinking else request.top_p
    if request.top_k is not None and not thinking:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.tools and request.tool_choice != "none":
        tools: list[JSON] = []
        for t in request.tools:
            tool: JSON = {"name": t.name, "input_schema": t.parameters or {"type": "object", "properties": {}}}
            if t.description is not None:
                tool["description"] = t.description
            if t.strict:
                tool["strict"] = True
            tools.append(tool)
        body["tools"] = tools
        choice: JSON | None = None
        tc = request.tool_choice
        if isinstance(tc, NamedToolChoice):
            choice = {"type": "tool", "name": tc.name}
        elif tc == "required":
            choice = {"type": "any"}
        elif tc == "auto" or request.parallel_tool_calls is False:
            choice = {"type": "auto"}
        if choice is not None and request.parallel_tool_calls is False:
            choice["disable_parallel_tool_use"] = True
        if choice is not None:
            body["tool_choice"] = choice
    rf = request.response_format
    if rf is not None and rf.type == "json_schema":
        body["output_config"] = {"format": {"type": "json_schema", "schema": rf.schema or {"type": "object"}}}
    elif rf is not None and rf.type == "json_object":  # no JSON mode without a schema: ask in the system prompt
        body["system"] = [*body.get("system", ()), {"type": "text", "text": JSON_OBJECT_INSTRUCTION}]
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    return body
