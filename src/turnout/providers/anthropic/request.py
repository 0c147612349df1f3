"""Canonical `ChatRequest` -> Anthropic Messages request body (docs.anthropic.com/en/api/messages).

System and developer messages become the top-level `system` blocks; `tool` messages become
`tool_result` blocks in a user turn; assistant tool calls become `tool_use` blocks; consecutive
turns of one role are merged, as Anthropic requires alternation. `reasoning_details` that came
from Anthropic (`format: anthropic-claude-v1`) go back as `thinking`/`redacted_thinking` blocks,
unchanged, ahead of the assistant's text. `cache_control` on parts passes through.
`response_format` json_schema becomes `output_config.format`; json_object, which Anthropic has
no mode for, becomes one system instruction. Files go in the form Anthropic documents for their
type: a PDF as a `document` (base64 or URL), plain text as a `document` with a `text` source, an
image as an `image` block; any other type is a 400 naming the part.

The model's parameter rules (providers/rules.py, catalog `parameter_rules`) decide the thinking
form: `{type: adaptive}` plus `output_config.effort` on models that think adaptively,
`{type: enabled, budget_tokens}` on older ones (plus the effort where the model takes one).
Sampling parameters are never sent: the API version the SDK sends takes none, on any model; a
caller's `temperature`/`top_p`/`top_k` is dropped and noted in the generation record (a 400 with
`provider.require_parameters`), never rewritten.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping

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
from turnout.providers.rules import DEFAULT_RULES, Adjustments, ParamRules, admit_sampling, drop_unsupported

REASONING_FORMAT = "anthropic-claude-v1"
# The `anthropic-version` the official SDK sends (anthropic._constants.ANTHROPIC_API_VERSION in
# anthropic 2.14.0, the version the translators are checked against; see docs/dialects.md).
API_VERSION = "2026-10-21"
# The request parameters this dialect can carry to Anthropic; endpoints must not advertise others.
# No sampling parameter: the Messages API version the SDK sends (API_VERSION) takes none, on any model.
SUPPORTED_PARAMETERS = frozenset(
    {"max_tokens", "stop", "tools", "tool_choice", "parallel_tool_calls", "reasoning", "include_reasoning",
     "response_format", "structured_outputs"}
)
CARRIED_SAMPLING: tuple[str, ...] = ()  # what an Anthropic body can hold at all (see above)
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; a provider's `options.max_tokens` overrides
# OpenRouter's effort -> share of max_tokens given to thinking, for models that take a budget.
EFFORT_RATIOS: Mapping[str, float] = {
    "max": 0.95, "xhigh": 0.95, "high": 0.8, "medium": 0.5, "low": 0.2, "minimal": 0.1,
}
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
MIN_BUDGET = 1024  # ThinkingConfigEnabledParam.budget_tokens: at least 1,024 and below max_tokens
MAX_BUDGET = 128_000
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})  # Base64ImageSourceParam
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


def thinking_budget(reasoning: Reasoning, max_tokens: int, rules: ParamRules = DEFAULT_RULES) -> int:
    """OpenRouter's rule: budget = max(min(max_tokens * ratio, 128000), 1024); an explicit budget wins.

    The model's own minimum and maximum (its parameter rules) bound the result.
    """
    if reasoning.max_tokens:
        budget = max(reasoning.max_tokens, MIN_BUDGET)
    else:
        ratio = EFFORT_RATIOS.get(reasoning.effort or "medium", EFFORT_RATIOS["medium"])
        budget = max(min(math.floor(max_tokens * ratio), MAX_BUDGET), MIN_BUDGET)
    return rules.clamp_budget(budget)


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a base64 data: URL, else None."""
    if not url.startswith("data:"):
        return None
    head, _, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if encoding != "base64" or not data:
        return None
    return media_type or "application/octet-stream", data


def file_block(part: FilePart, where: str) -> JSON:
    """A file part in the form Anthropic documents for its type: a PDF or plain-text document, or an image."""
    data = part.file_data or ""
    inline = split_data_url(data)
    block: JSON
    if inline is not None:
        media_type, payload = inline
        if media_type == "application/pdf":
            block = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": payload}}
        elif media_type.startswith("text/"):
            try:
                text = base64.b64decode(payload, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise invalid(where, f"'{where}': a {media_type} file must be base64 of UTF-8 text") from None
            block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
        elif media_type in IMAGE_TYPES:
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": payload}}
        else:
            raise invalid(where, f"'{where}': Anthropic takes PDF, plain-text and image files, not {media_type}")
    elif data.startswith(("http://", "https://")):
        path = data.split("?", 1)[0].lower()
        if path.endswith(IMAGE_SUFFIXES):
            return {"type": "image", "source": {"type": "url", "url": data}}
        if not path.endswith(".pdf") and "." in path.rsplit("/", 1)[-1]:
            raise invalid(where, f"'{where}': Anthropic fetches only PDF documents and images by URL")
        block = {"type": "document", "source": {"type": "url", "url": data}}
    else:
        raise invalid(where, f"'{where}': a file must be a base64 data: URL or an http(s) URL")
    if part.filename:
        block["title"] = part.filename
    return block


def to_anthropic_block(part: ContentPart, where: str) -> JSON:
    block: JSON
    match part:
        case TextPart(text=text):
            block = {"type": "text", "text": text}
        case ImagePart(url=url):
            inline = split_data_url(url)
            if inline is not None:
                if inline[0] not in IMAGE_TYPES:
                    raise invalid(where, f"'{where}': Anthropic takes JPEG, PNG, GIF and WebP images, not {inline[0]}")
                block = {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
            elif url.startswith(("http://", "https://")):
                block = {"type": "image", "source": {"type": "url", "url": url}}
            else:
                raise invalid(where, f"'{where}': an image must be an http(s) URL or a base64 data: URL")
        case FilePart(file_data=data) if data:
            block = file_block(part, where)
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


def tool_input(arguments: str, where: str) -> JSON:
    """A tool call's arguments as the object `tool_use.input` must be."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise invalid(where, f"'{where}' is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid(where, f"'{where}' must be a JSON object")
    return value


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


def thinking_config(
    request: ChatRequest, rules: ParamRules, max_tokens: int, forced: bool, notes: Adjustments
) -> tuple[JSON | None, str | None, int]:
    """(`thinking`, `output_config.effort`, max_tokens) for the model's thinking form (its parameter rules).

    Adaptive models get `{type: adaptive, display}` and the effort (display `summarized`, or `omitted`
    for `reasoning.exclude`: the newest models hide thinking by default); budget models `{type: enabled, budget_tokens}`
    (below max_tokens, as Anthropic requires), plus the effort where they take one (Opus 4.5).
    """
    r = request.reasoning
    if r is None:
        return None, None, max_tokens
    display = {"display": "omitted"} if r.exclude else {}
    if not r.active:
        if r.enabled is not False and r.effort != "none":
            return None, None, max_tokens  # include_reasoning: false alone leaves thinking to the model
        if not rules.thinking_off:
            notes.drop("reasoning.enabled", f"{rules.family} always thinks; thinking cannot be turned off")
            return None, None, max_tokens
        return {"type": "disabled"}, None, max_tokens
    if forced:
        notes.drop("reasoning", "Anthropic takes no thinking with a forced tool choice; the tool choice was kept")
        return None, None, max_tokens
    effort: str | None = None
    if r.effort and rules.efforts:
        effort = rules.nearest_effort(r.effort)
        if effort != r.effort:
            notes.change("reasoning.effort", f"{rules.family} takes effort {'/'.join(rules.efforts)}; {r.effort} became {effort}")
    form = rules.thinking[0] if rules.thinking else "budget"
    if form == "adaptive":
        if r.max_tokens:
            notes.drop("reasoning.max_tokens", f"{rules.family} thinks adaptively and takes no thinking budget")
        # The newest models omit the thinking text unless asked: a caller who wants reasoning gets it shown.
        return {"type": "adaptive", "display": "omitted" if r.exclude else "summarized"}, effort, max_tokens
    budget = thinking_budget(r, max_tokens, rules)
    if r.max_tokens and budget != r.max_tokens:
        notes.change("reasoning.max_tokens", f"{rules.family} takes thinking budgets of "
                     f"{max(rules.budget_min or 0, MIN_BUDGET)}-{rules.budget_max or MAX_BUDGET}; {r.max_tokens} became {budget}")
    if budget >= max_tokens:  # Anthropic requires budget_tokens < max_tokens: the answer keeps its own room
        if request.max_tokens is not None:
            notes.change("max_tokens", f"thinking counts toward Anthropic's max_tokens; {max_tokens} became "
                         f"{budget + max_tokens} to fit the {budget}-token thinking budget")
        max_tokens = budget + max_tokens
    return {"type": "enabled", "budget_tokens": budget, **display}, effort, max_tokens


def to_tools(request: ChatRequest) -> list[JSON]:
    tools: list[JSON] = []
    for t in request.tools or ():
        tool: JSON = {"name": t.name, "input_schema": t.parameters or {"type": "object", "properties": {}}}
        if t.description is not None:
            tool["description"] = t.description
        if t.strict:
            tool["strict"] = True
        tools.append(tool)
    return tools


def to_tool_choice(request: ChatRequest) -> JSON | None:
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
    return choice


def to_anthropic_body(
    request: ChatRequest,
    model: str,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    rules: ParamRules = DEFAULT_RULES,
    notes: Adjustments | None = None,
) -> JSON:
    """The Messages request body; what the model cannot take is dropped and noted in `notes` (providers/rules.py)."""
    notes = notes if notes is not None else Adjustments.of(request, model)
    system, messages = to_anthropic_messages(request.messages)
    body: JSON = {"model": model, "messages": messages}
    if system:
        body["system"] = system
    # Anthropic refuses thinking with a forced tool choice; the forced tool wins.
    forced = bool(request.tools) and (request.tool_choice == "required" or isinstance(request.tool_choice, NamedToolChoice))
    thinking, effort, max_tokens = thinking_config(request, rules, request.max_tokens or default_max_tokens, forced, notes)
    if thinking is not None:
        body["thinking"] = thinking
    body["max_tokens"] = max_tokens
    api = f"Anthropic's Messages API (version {API_VERSION})"
    admit_sampling(request, rules, CARRIED_SAMPLING, notes, api)
    drop_unsupported(request, ("logit_bias", "logprobs", "top_logprobs"), notes, api)
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.tools and request.tool_choice != "none":
        body["tools"] = to_tools(request)
        choice = to_tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    output: JSON = {}
    if effort is not None:
        output["effort"] = effort
    rf = request.response_format
    if rf is not None and rf.type == "json_schema":
        output["format"] = {"type": "json_schema", "schema": rf.schema or {"type": "object"}}
    elif rf is not None and rf.type == "json_object":  # no JSON mode without a schema: ask in the system prompt
        body["system"] = [*body.get("system", ()), {"type": "text", "text": JSON_OBJECT_INSTRUCTION}]
    if output:
        body["output_config"] = output
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    return body
