"""The native Z.ai (Zhipu GLM) dialect: `POST {base}/chat/completions` on `https://api.z.ai/api/paas/v4`.

Z.ai's API is OpenAI-shaped, with its own knobs and limits (docs.z.ai/api-reference/llm/chat-completion):
  - `reasoning` -> `thinking: {"type": "enabled"|"disabled"}`; `enabled: false` or `effort: "none"`
    disables it; `exclude` keeps it on (and billed) and only hides it from the answer.
  - reasoning travels as `reasoning_content` in messages and deltas; it comes back as `reasoning`
    plus one `reasoning.text` detail, and an assistant turn's reasoning goes back as `reasoning_content`.
    Thinking tokens are `usage.completion_tokens_details.reasoning_tokens` when Z.ai reports them;
    otherwise they are estimated from the text and the usage is marked `reasoning_estimated`
    (billed as output either way, being part of `completion_tokens`).
  - `temperature` outside [0, 1] and `top_p` outside [0.01, 1] are brought into Z.ai's range, and
    only the first stop word is sent (Z.ai takes one); each such change is noted in the generation
    record (`attempts[].adjusted`), or refused with a 400 under `provider.require_parameters`.
    `temperature: 0` becomes `do_sample: false` (greedy, the same meaning). `seed`, penalties,
    `top_k`, `min_p`, `logit_bias` and `logprobs` are not in Z.ai's API: dropped and noted.
  - `response_format` takes text or json_object only: json_schema is sent as json_object, so Z.ai
    endpoints do not advertise `structured_outputs`.
  - `tool_choice` takes only "auto": "none" drops the tools, "required"/named are sent as auto.
  - `tool_stream: true` when tools are streamed, so arguments arrive incrementally.
  - `user` -> `user_id` (6-128 characters, else dropped); the generation id -> `request_id`.
  - messages whose parts are all text go as one string, the parts joined by a newline (Z.ai's text
    models take a string); other content is Z.ai's parts (`image_url`, `video_url`, `file_url`, the
    only file form its chat-completion spec has); a data: image URL is sent as its bare base64, as
    Z.ai's vision docs show; a file must be an http(s) URL (Z.ai fetches it) and cannot share a
    message with images or videos (the spec forbids it): anything else is a 400 naming the part.
  - a function tool always has the `description` and `parameters` the spec requires (empty ones
    when the caller gave none).
  - web search: Z.ai's built-in `web_search` tool (engine `search_pro_jina`, the one the spec lists) is added when the request has OpenRouter's
    `plugins: [{"id": "web"}]` or `web_search_options`; results come back as `url_citation`
    annotations and one `web_search_requests` is counted when Z.ai returns search results.
  - error bodies are `{"error": {"code": "1305", "message": ...}}`; code 1305 (overloaded) and
    1113 (insufficient balance) refine the status classification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from turnout.model.chat import (
    JSON,
    AudioPart,
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    VideoPart,
)
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError, invalid
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import ReasoningDelta
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.errors import decode_error_body, upstream_error
from turnout.providers.openai import (
    OpenAIStreamDecoder,
    bad_response,
    from_openai_tool_calls,
    from_openai_usage,
    to_finish_reason,
)
from turnout.providers.rules import Adjustments, admit_sampling, drop_unsupported

NAME = "zai"
REASONING_FORMAT = "unknown"  # OpenRouter's `format` for GLM reasoning details
WEB_SEARCH_ENGINE = "search_pro_jina"  # WebSearchObject.search_engine: the one value the spec lists
TEXT_SEPARATOR = "\n"  # between the text parts of a message that goes as one string
EMPTY_PARAMETERS: JSON = {"type": "object", "properties": {}}
# The request parameters this dialect carries to Z.ai; endpoints must not advertise others.
SUPPORTED_PARAMETERS = frozenset(
    {"max_tokens", "temperature", "top_p", "stop", "response_format", "tools", "tool_choice", "reasoning",
     "include_reasoning"}
)
# Z.ai business error codes that say more than the HTTP status.
ERROR_CODES: Mapping[str, ErrorKind] = {
    "1305": ErrorKind.PROVIDER_OVERLOADED,  # the service may be temporarily overloaded
    "1113": ErrorKind.PROVIDER_AUTH_FAILED,  # the account's balance is used up
}


def reasoning_text_of(message: Message) -> str | None:
    """What goes back as `reasoning_content`: the reasoning text, or its `reasoning.text` details."""
    if message.reasoning:
        return message.reasoning
    texts = [d.get("text") or "" for d in message.reasoning_details or () if d.get("type") == "reasoning.text"]
    return "".join(texts) or None


def to_zai_part(part: ContentPart, where: str) -> JSON:
    match part:
        case TextPart(text=text):
            return {"type": "text", "text": text}
        case ImagePart(url=url):
            if url.startswith("data:"):
                url = url.partition(",")[2]  # Z.ai takes the bare base64
            return {"type": "image_url", "image_url": {"url": url}}
        case VideoPart(url=url):
            return {"type": "video_url", "video_url": {"url": url}}
        case FilePart(file_data=data) if data and data.startswith(("http://", "https://")):
            return {"type": "file_url", "file_url": {"url": data}}
        case FilePart(file_data=data) if data:
            raise invalid(where, f"'{where}': Z.ai fetches files by http(s) URL; it takes no inline (data:) file")
        case FilePart():
            raise invalid(where, f"'{where}': Z.ai takes files as a URL in file.file_data, not a file_id")
        case AudioPart():
            raise invalid(where, f"'{where}': Z.ai does not take audio input")
    raise AssertionError(part)


def to_zai_content(content: str | list[ContentPart] | None, where: str) -> str | list[JSON] | None:
    if content is None or isinstance(content, str):
        return content
    if all(isinstance(p, TextPart) for p in content):  # text models take a string
        return TEXT_SEPARATOR.join(p.text for p in content if isinstance(p, TextPart))
    parts = [to_zai_part(p, f"{where}[{j}]") for j, p in enumerate(content)]
    files = [j for j, p in enumerate(parts) if p["type"] == "file_url"]
    if files and any(p["type"] in ("image_url", "video_url") for p in parts):
        at = f"{where}[{files[0]}]"
        raise invalid(at, f"'{at}': Z.ai takes no file in a message that also has images or videos")
    return parts


def text_of(message: Message) -> str:
    if isinstance(message.content, list):
        return TEXT_SEPARATOR.join(p.text for p in message.content if isinstance(p, TextPart))
    return message.content or ""


def to_zai_message(message: Message, where: str) -> JSON:
    role = "system" if message.role == "developer" else message.role
    if role in ("system", "tool"):
        out: JSON = {"role": role, "content": text_of(message)}
    else:
        out = {"role": role}
        content = to_zai_content(message.content, where)
        if content is not None or role != "assistant":  # the spec's assistant content is a string, or absent
            out["content"] = content if content is not None else ""
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if role == "assistant":
        reasoning = reasoning_text_of(message)
        if reasoning:
            out["reasoning_content"] = reasoning
    return out


def web_search_tool(request: ChatRequest) -> JSON | None:
    """Z.ai's built-in web search tool, if the request asks for web search."""
    options: JSON | None = None
    for plugin in request.plugins or ():
        if plugin.get("id") == "web" and plugin.get("enabled", True) is not False:
            options = plugin
    if options is None and isinstance(request.extra.get("web_search_options"), dict):
        options = {}
    if options is None:
        return None
    search: JSON = {"enable": True, "search_engine": WEB_SEARCH_ENGINE, "search_result": True}
    if isinstance(options.get("max_results"), int):
        search["count"] = max(1, min(50, options["max_results"]))
    if isinstance(options.get("search_prompt"), str):
        search["search_prompt"] = options["search_prompt"]
    domains = options.get("include_domains")
    if isinstance(domains, list) and domains and isinstance(domains[0], str):
        search["search_domain_filter"] = domains[0]  # Z.ai takes a single domain
    return {"type": "web_search", "web_search": search}


def to_zai_body(request: ChatRequest, target: Target, notes: Adjustments | None = None) -> JSON:
    """The chat-completions body; what Z.ai cannot take is dropped or brought into range, and noted."""
    notes = notes if notes is not None else Adjustments.of(request, target.upstream_model)
    rules = target.rules
    body: JSON = {k: v for k, v in request.extra.items() if k != "web_search_options"}
    body["model"] = target.upstream_model
    body["messages"] = [to_zai_message(m, f"messages[{i}].content") for i, m in enumerate(request.messages)]
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    sampling = admit_sampling(request, rules, ("temperature", "top_p"), notes, "Z.ai")
    drop_unsupported(request, ("logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls"), notes, "Z.ai")
    if "temperature" in sampling:
        temperature = min(1.0, max(0.0, sampling["temperature"]))
        if temperature != sampling["temperature"]:
            notes.change("temperature", f"Z.ai takes temperature in [0, 1]; {sampling['temperature']} became {temperature}")
        if temperature == 0:
            body["do_sample"] = False
        else:
            body["temperature"] = temperature
    if "top_p" in sampling:
        top_p = min(1.0, max(0.01, sampling["top_p"]))
        if top_p != sampling["top_p"]:
            notes.change("top_p", f"Z.ai takes top_p in [0.01, 1]; {sampling['top_p']} became {top_p}")
        body["top_p"] = top_p
    if request.stop:
        if len(request.stop) > 1:
            notes.change("stop", f"Z.ai takes one stop word; the first of {len(request.stop)} was sent")
        body["stop"] = request.stop[:1]
    rf = request.response_format
    if rf is not None:
        if rf.type == "json_schema":
            notes.change("response_format", "Z.ai has no json_schema mode; json_object was sent")
        body["response_format"] = {"type": "text" if rf.type == "text" else "json_object"}
    tools: list[JSON] = []
    if request.tools and request.tool_choice != "none":
        tools = [
            {"type": "function", "function": {"name": t.name, "description": t.description or "",
                                              "parameters": t.parameters or EMPTY_PARAMETERS}}
            for t in request.tools
        ]
    search = web_search_tool(request)
    if search is not None:
        tools.append(search)
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:  # Z.ai knows only "auto"
            if request.tool_choice not in ("auto", "none"):
                notes.change("tool_choice", "Z.ai takes tool_choice auto only")
            body["tool_choice"] = "auto"
        if request.stream and request.tools:
            body["tool_stream"] = True
    r = request.reasoning
    if r is not None and (r.active or r.enabled is False or r.effort == "none"):
        if not r.active and not rules.thinking_off:
            notes.drop("reasoning.enabled", f"{rules.family} always thinks; thinking cannot be turned off")
        else:
            body["thinking"] = {"type": "enabled" if r.active else "disabled"}
        if r.active and r.effort and rules.efforts:
            effort = rules.nearest_effort(r.effort) or r.effort
            if effort != r.effort:
                notes.change("reasoning.effort", f"{rules.family} takes effort {'/'.join(rules.efforts)}; "
                             f"{r.effort} became {effort}")
            body["reasoning_effort"] = effort
    if request.user is not None and 6 <= len(request.user) <= 128:
        body["user_id"] = request.user
    if request.generation_id is not None and "request_id" not in body:
        body["request_id"] = request.generation_id
    if request.stream:
        body["stream"] = True
    return body


def from_zai_web_search(raw: Any) -> list[JSON] | None:
    """Z.ai's top-level `web_search` results as OpenRouter `url_citation` annotations."""
    if not isinstance(raw, list) or not raw:
        return None
    return [
        {
            "type": "url_citation",
            "url_citation": {"url": r.get("link") or "", "title": r.get("title") or "", "content": r.get("content") or ""},
        }
        for r in raw
        if isinstance(r, dict)
    ]


def reports_reasoning(raw: Any) -> bool:
    """Whether Z.ai's usage counts the thinking tokens itself (`completion_tokens_details.reasoning_tokens`)."""
    details = raw.get("completion_tokens_details") if isinstance(raw, dict) else None
    return isinstance(details, dict) and isinstance(details.get("reasoning_tokens"), int)


def estimated_reasoning_tokens(chars: int, completion_tokens: int) -> int:
    """When Z.ai's usage does not split out thinking: 4 characters a token, at most the completion."""
    return min(completion_tokens, (chars + 3) // 4)


def reasoning_details(text: str) -> list[JSON]:
    return [{"type": "reasoning.text", "text": text, "format": REASONING_FORMAT, "index": 0}]


class ZaiAdapter:
    dialect: ClassVar[str] = NAME

    def build_request(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        headers = {"content-type": "application/json", "accept-language": "en-US,en", **target.extra_headers}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        notes = Adjustments.of(request, target.upstream_model)
        body = orjson.dumps(to_zai_body(request, target, notes))
        url = target.base_url.rstrip("/") + "/chat/completions"
        return UpstreamRequest("POST", url, headers, body, request.stream, tuple(notes.notes))

    def parse_response(self, body: bytes, target: Target) -> ChatResult:
        try:
            raw = orjson.loads(body)
            choice = raw["choices"][0]
            message = choice.get("message") or {}
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise bad_response(target, f"not a chat completion ({type(exc).__name__})") from None
        native = choice.get("finish_reason")
        reasoning = message.get("reasoning_content") or None
        usage = from_openai_usage(raw.get("usage"))
        if usage is not None and reasoning and not reports_reasoning(raw.get("usage")):
            usage.reasoning_tokens = estimated_reasoning_tokens(len(reasoning), usage.completion_tokens)
            usage.reasoning_estimated = usage.reasoning_tokens > 0
        annotations = from_zai_web_search(raw.get("web_search"))
        if usage is not None and annotations:
            usage.web_search_requests = 1
        return ChatResult(
            content=message.get("content"),
            finish_reason=to_finish_reason(native),
            native_finish_reason=native,
            reasoning=reasoning,
            reasoning_details=reasoning_details(reasoning) if reasoning else None,
            tool_calls=from_openai_tool_calls(message.get("tool_calls")),
            annotations=annotations,
            usage=usage,
            upstream_id=raw.get("id"),
        )

    def open_stream(self, request: ChatRequest, target: Target) -> ZaiStreamDecoder:
        return ZaiStreamDecoder(target)

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
        raw, _ = decode_error_body(body)
        code = raw.get("error", {}).get("code") if isinstance(raw, dict) and isinstance(raw.get("error"), dict) else None
        return upstream_error(status, headers, body, target.provider_name, kind=ERROR_CODES.get(str(code)))


class ZaiStreamDecoder(OpenAIStreamDecoder):
    """One Z.ai stream: OpenAI-shaped `data: {chunk}` frames (usage rides on the last one), then
    `data: [DONE]`; reasoning arrives as `reasoning_content`, web search results on the chunk,
    and in-band errors carry Z.ai's own codes."""

    __slots__ = ("_reasoning_chars", "_reported", "_searched")

    def __init__(self, target: Target) -> None:
        super().__init__(target, "reasoning_content")
        self._searched = False
        self._reported = False  # the usage counted thinking tokens itself
        self._reasoning_chars = 0

    def error_class(self, err: Any) -> tuple[ErrorKind, FailureClass]:
        code = str(err.get("code")) if isinstance(err, dict) else ""
        kind = ERROR_CODES.get(code, ErrorKind.PROVIDER_SERVER_ERROR)
        return kind, FailureClass.RATE_LIMIT if kind is ErrorKind.PROVIDER_OVERLOADED else FailureClass.TRANSIENT

    def on_chunk(self, chunk: dict[str, Any]) -> None:
        if chunk.get("web_search"):
            self._searched = True
        if chunk.get("usage"):
            self._reported = reports_reasoning(chunk["usage"])

    def reasoning_of(self, delta: dict[str, Any]) -> ReasoningDelta | None:
        reasoning = delta.get("reasoning_content")
        if not reasoning:
            return None
        self._reasoning_chars += len(reasoning)
        return ReasoningDelta(reasoning, reasoning_details(reasoning))

    def finish_usage(self, usage: Usage) -> Usage:
        usage.web_search_requests = 1 if self._searched else 0
        if self._reasoning_chars and not self._reported:
            usage.reasoning_tokens = estimated_reasoning_tokens(self._reasoning_chars, usage.completion_tokens)
            usage.reasoning_estimated = usage.reasoning_tokens > 0
        return usage
