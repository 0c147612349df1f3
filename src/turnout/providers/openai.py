"""The OpenAI chat-completions dialect, and the `Quirks` presets of OpenAI-compatible providers.

A compatible provider is catalog data plus, at most, a small `Quirks` preset registered in
`QUIRKS`; anything that needs more than that gets its own module.
Wire reference: https://platform.openai.com/docs/api-reference/chat
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    NamedToolChoice,
    TextPart,
    ToolCall,
    VideoPart,
)
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    StreamFailure,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from turnout.providers.base import Target, UpstreamRequest
from turnout.providers.errors import upstream_error
from turnout.providers.sse import SSEEvent

# Native finish reasons seen from OpenAI-compatible servers, normalized to OpenRouter's five.
FINISH_REASONS: Mapping[str, str] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "model_context_window_exceeded": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "sensitive": "content_filter",  # Z.ai
    "error": "error",
    "network_error": "error",  # Z.ai
}


def to_finish_reason(native: str | None) -> str:
    if native is None:
        return "stop"
    return FINISH_REASONS.get(native, "stop")


@dataclass(frozen=True, slots=True)
class Quirks:
    """How an OpenAI-compatible upstream departs from OpenAI's own API."""

    drop_params: frozenset[str] = frozenset()
    rename_params: Mapping[str, str] = field(default_factory=dict)
    # How `reasoning` goes out: "openrouter" (the object), "effort" (reasoning_effort), or None (dropped).
    reasoning_style: str | None = "effort"
    # Where the upstream puts reasoning text in messages and deltas.
    reasoning_field: str = "reasoning"
    stream_usage: bool = True  # send stream_options.include_usage so the last chunk has usage
    developer_as_system: bool = False


QUIRKS: dict[str, Quirks] = {
    "openai": Quirks(),
    # vLLM, llama.cpp server, Ollama, SGLang: OpenAI-shaped, reasoning in `reasoning_content`.
    "compatible": Quirks(reasoning_style=None, reasoning_field="reasoning_content", developer_as_system=True),
    # Another OpenRouter-class gateway (OpenRouter itself, or turnout): the extensions pass through.
    "openrouter": Quirks(reasoning_style="openrouter"),
    # Z.ai through its OpenAI-compatible surface (the native `zai` dialect maps more).
    "zai": Quirks(reasoning_style=None, reasoning_field="reasoning_content"),
}


def to_openai_part(part: ContentPart) -> JSON:
    match part:
        case TextPart(text=text, cache_control=cc):
            out: JSON = {"type": "text", "text": text}
            if cc is not None:
                out["cache_control"] = cc
            return out
        case ImagePart(url=url, detail=detail):
            image: JSON = {"url": url}
            if detail is not None:
                image["detail"] = detail
            return {"type": "image_url", "image_url": image}
        case FilePart(filename=filename, file_data=data, file_id=file_id):
            file: JSON = {k: v for k, v in (("filename", filename), ("file_data", data), ("file_id", file_id)) if v}
            return {"type": "file", "file": file}
        case AudioPart(data=data, format=fmt):
            return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
        case VideoPart(url=url):
            return {"type": "video_url", "video_url": {"url": url}}
    raise AssertionError(part)


def to_openai_message(message: Message, quirks: Quirks) -> JSON:
    role = "system" if quirks.developer_as_system and message.role == "developer" else message.role
    out: JSON = {"role": role}
    content = message.content
    if isinstance(content, list):
        out["content"] = [to_openai_part(p) for p in content]
    else:
        out["content"] = content
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.reasoning is not None:
        out[quirks.reasoning_field] = message.reasoning
    if message.reasoning_details is not None and quirks.reasoning_style == "openrouter":
        out["reasoning_details"] = message.reasoning_details
    return out


_SCALARS = (
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "seed", "stop", "logit_bias", "logprobs", "top_logprobs",
    "parallel_tool_calls", "user",
)


# The request parameters (OpenRouter's `supported_parameters` names) this dialect carries; a
# preset whose `reasoning_style` is None drops `reasoning`. Unknown request fields pass through too.
SUPPORTED_PARAMETERS = frozenset(
    {*(n for n in _SCALARS if n != "user"), "max_tokens", "response_format", "structured_outputs", "tools",
     "tool_choice", "reasoning", "include_reasoning"}
)


def supported_parameters(quirks: Quirks) -> frozenset[str]:
    return SUPPORTED_PARAMETERS if quirks.reasoning_style is not None else SUPPORTED_PARAMETERS - {"reasoning"}


def to_openai_body(request: ChatRequest, target: Target, quirks: Quirks) -> JSON:
    body: JSON = dict(request.extra)  # unknown fields first, so modelled ones win
    body["model"] = target.upstream_model
    body["messages"] = [to_openai_message(m, quirks) for m in request.messages]
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    for name in _SCALARS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    rf = request.response_format
    if rf is not None:
        if rf.type == "json_schema":
            schema: JSON = {"name": rf.name or "response", "schema": rf.schema or {}}
            if rf.strict is not None:
                schema["strict"] = rf.strict
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        else:
            body["response_format"] = {"type": rf.type}
    if request.tools is not None:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    k: v
                    for k, v in (
                        ("name", t.name),
                        ("description", t.description),
                        ("parameters", t.parameters),
                        ("strict", t.strict),
                    )
                    if v is not None
                },
            }
            for t in request.tools
        ]
    tc = request.tool_choice
    if isinstance(tc, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": tc.name}}
    elif tc is not None:
        body["tool_choice"] = tc
    r = request.reasoning
    if r is not None:
        if quirks.reasoning_style == "openrouter":
            body["reasoning"] = {
                k: v
                for k, v in (("effort", r.effort), ("max_tokens", r.max_tokens), ("exclude", r.exclude or None), ("enabled", r.enabled))
                if v is not None
            }
        elif quirks.reasoning_style == "effort" and r.effort is not None:
            body["reasoning_effort"] = r.effort
    if request.stream:
        body["stream"] = True
        if quirks.stream_usage:
            body["stream_options"] = {"include_usage": True}
    for name in quirks.drop_params:
        body.pop(name, None)
    for old, new in quirks.rename_params.items():
        if old in body:
            body[new] = body.pop(old)
    return body


def from_openai_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        cache_write_tokens=int(prompt_details.get("cache_write_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def from_openai_tool_calls(raw: Any) -> list[ToolCall] | None:
    if not raw:
        return None
    calls = []
    for c in raw:
        fn = c.get("function") or {}
        calls.append(ToolCall(id=c.get("id") or "", name=fn.get("name") or "", arguments=fn.get("arguments") or ""))
    return calls


def bad_response(target: Target, why: str) -> UpstreamError:
    return UpstreamError(
        ErrorKind.PROVIDER_BAD_RESPONSE,
        f"{target.provider_name} returned an invalid response: {why}",
        provider=target.provider_name,
        failure=FailureClass.TRANSIENT,
    )


class OpenAIAdapter:
    """The OpenAI dialect; `quirks` comes from the provider's catalog entry (`quirks: <preset>`)."""

    dialect: ClassVar[str] = "openai"

    def quirks_of(self, target: Target) -> Quirks:
        return QUIRKS.get(str(target.options.get("quirks", "openai")), QUIRKS["openai"])

    def build_request(self, request: ChatRequest, target: Target) -> UpstreamRequest:
        body = to_openai_body(request, target, self.quirks_of(target))
        headers = {"content-type": "application/json", **target.extra_headers}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        return UpstreamRequest(
            "POST", target.base_url.rstrip("/") + "/chat/completions", headers, orjson.dumps(body), request.stream
        )

    def parse_response(self, body: bytes, target: Target) -> ChatResult:
        try:
            raw = orjson.loads(body)
            choice = raw["choices"][0]
            message = choice.get("message") or {}
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise bad_response(target, f"not a chat completion ({type(exc).__name__})") from None
        reasoning_field = self.quirks_of(target).reasoning_field
        native = choice.get("finish_reason")
        return ChatResult(
            content=message.get("content"),
            finish_reason=to_finish_reason(native),
            native_finish_reason=native,
            reasoning=message.get(reasoning_field) or message.get("reasoning") or message.get("reasoning_content"),
            reasoning_details=message.get("reasoning_details"),
            tool_calls=from_openai_tool_calls(message.get("tool_calls")),
            annotations=message.get("annotations"),
            refusal=message.get("refusal"),
            logprobs=choice.get("logprobs"),
            usage=from_openai_usage(raw.get("usage")),
            upstream_id=raw.get("id"),
        )

    def open_stream(self, request: ChatRequest, target: Target) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(target, self.quirks_of(target).reasoning_field)

    def parse_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        return upstream_error(status, headers, body, target.provider_name)


class OpenAIStreamDecoder:
    """One chat.completion.chunk stream: deltas pass straight on; finish and usage wait for the end.

    OpenAI-shaped dialects with extras (Z.ai) subclass it and override the small hooks below.
    """

    __slots__ = ("_done", "_native_finish", "_reasoning_field", "_target", "_usage")

    def __init__(self, target: Target, reasoning_field: str) -> None:
        self._target = target
        self._reasoning_field = reasoning_field
        self._native_finish: str | None = None
        self._usage: Usage | None = None
        self._done = False

    # -- hooks ------------------------------------------------------------------------------

    def error_class(self, err: Any) -> tuple[ErrorKind, FailureClass]:
        """How an in-band `{"error": ...}` chunk is classified."""
        return ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT

    def on_chunk(self, chunk: dict[str, Any]) -> None:
        """Anything a dialect reads off a whole chunk besides choices and usage."""

    def reasoning_of(self, delta: dict[str, Any]) -> ReasoningDelta | None:
        reasoning = delta.get(self._reasoning_field) or delta.get("reasoning") or delta.get("reasoning_content")
        details = delta.get("reasoning_details")
        if reasoning or details:
            return ReasoningDelta(reasoning or None, details or None)
        return None

    def finish_usage(self, usage: Usage) -> Usage:
        """The usage as reported, completed by what the dialect counted during the stream."""
        return usage

    # -- decoding -----------------------------------------------------------------------------

    def feed(self, event: SSEEvent) -> Iterable[StreamEvent]:
        data = event.data
        if data == "[DONE]":
            return self._end()
        if self._done:
            return ()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._done = True
            return (StreamFailure(bad_response(self._target, "a stream chunk is not JSON")),)
        if not isinstance(chunk, dict):
            return ()
        if "error" in chunk and not chunk.get("choices"):
            self._done = True
            err = chunk["error"]
            message = err.get("message") if isinstance(err, dict) else str(err)
            kind, failure = self.error_class(err)
            return (
                StreamFailure(
                    UpstreamError(
                        kind,
                        f"{self._target.provider_name} failed mid-stream: {message}",
                        provider=self._target.provider_name,
                        failure=failure,
                        raw=err,
                    )
                ),
            )
        out: list[StreamEvent] = []
        usage = chunk.get("usage")
        if usage:
            self._usage = from_openai_usage(usage)
        self.on_chunk(chunk)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            reasoning = self.reasoning_of(delta)
            if reasoning is not None:
                out.append(reasoning)
            content = delta.get("content")
            if content:
                out.append(TextDelta(content))
            for tc in delta.get("tool_calls") or ():
                fn = tc.get("function") or {}
                out.append(
                    ToolCallDelta(
                        index=int(tc.get("index") or 0),
                        id=tc.get("id"),
                        name=fn.get("name"),
                        arguments=fn.get("arguments") or "",
                    )
                )
            if choice.get("finish_reason"):
                self._native_finish = choice["finish_reason"]
        return out

    def close(self) -> Iterable[StreamEvent]:
        if self._done:
            return ()
        if self._native_finish is None:
            self._done = True
            return (StreamFailure(bad_response(self._target, "the stream ended before a finish reason")),)
        return self._end()

    def _end(self) -> list[StreamEvent]:
        if self._done:
            return []
        self._done = True
        out: list[StreamEvent] = []
        if self._usage is not None:
            out.append(UsageReport(self.finish_usage(self._usage)))
        if self._native_finish is None:
            out.append(StreamFailure(bad_response(self._target, "[DONE] came before a finish reason")))
        else:
            out.append(Finish(to_finish_reason(self._native_finish), self._native_finish))
        return out
