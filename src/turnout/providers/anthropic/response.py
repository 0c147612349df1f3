"""Anthropic Messages answers -> canonical results, stream events and errors.

A message's content blocks map as: `text` -> content, `thinking` -> reasoning plus a
`reasoning.text` detail carrying its signature, `redacted_thinking` -> a `reasoning.encrypted`
detail, `tool_use` -> a tool call (its `input` serialized as the arguments). Anthropic's
`input_tokens` excludes cached tokens, so the canonical prompt count is
`input_tokens + cache_read_input_tokens + cache_creation_input_tokens`. Thinking tokens are
`usage.output_tokens_details.thinking_tokens` as Anthropic reports them (part of `output_tokens`);
only when that is absent are they estimated from the thinking text (4 characters a token, at most
the output tokens) and the usage marked `reasoning_estimated`. Server tool use
(`server_tool_use.web_search_requests`) is counted as reported.

Every `stop_reason` the SDK declares (anthropic.types.StopReason) has an OpenAI finish reason in
`STOP_REASONS`; the native reason is kept beside it.

The stream (docs.anthropic.com/en/docs/build-with-claude/streaming) is decoded by one
`AnthropicStreamDecoder` per response: `message_start`, then per block `content_block_start`,
`content_block_delta`s (text_delta, thinking_delta, signature_delta, input_json_delta) and
`content_block_stop`, then `message_delta` (stop reason, output tokens) and `message_stop`;
`ping` anywhere, and `error` ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from turnout.model.chat import JSON, ToolCall
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
from turnout.providers.base import Target
from turnout.providers.errors import upstream_error
from turnout.providers.openai import bad_response
from turnout.providers.sse import SSEEvent

from .request import REASONING_FORMAT

STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "pause_turn": "length",  # a long turn paused unfinished: the answer is incomplete until continued
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic's error `type`s, where they say more than the status (a 529, or an error mid-stream).
ERROR_TYPES: Mapping[str, tuple[ErrorKind, FailureClass]] = {
    "invalid_request_error": (ErrorKind.PROVIDER_INVALID_REQUEST, FailureClass.CALLER_FAULT),
    "request_too_large": (ErrorKind.PROVIDER_INVALID_REQUEST, FailureClass.CALLER_FAULT),
    "authentication_error": (ErrorKind.PROVIDER_AUTH_FAILED, FailureClass.CREDENTIAL),
    "permission_error": (ErrorKind.PROVIDER_AUTH_FAILED, FailureClass.CREDENTIAL),
    "rate_limit_error": (ErrorKind.PROVIDER_RATE_LIMITED, FailureClass.RATE_LIMIT),
    "overloaded_error": (ErrorKind.PROVIDER_OVERLOADED, FailureClass.RATE_LIMIT),
    "api_error": (ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT),
}


def to_finish_reason(native: str | None) -> str:
    """An undeclared (newer) reason is an `error`, never a silent `stop`; the native one travels beside it."""
    return STOP_REASONS.get(native or "", "error")


def _count(raw: Any, key: str) -> int:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def from_anthropic_usage(raw: Any, reasoning_chars: int = 0) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    cache_read = _count(raw, "cache_read_input_tokens")
    cache_write = _count(raw, "cache_creation_input_tokens")
    output = _count(raw, "output_tokens")
    details = raw.get("output_tokens_details")
    reported = isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int)
    thinking = min(output, _count(details, "thinking_tokens")) if reported else min(output, (reasoning_chars + 3) // 4)
    return Usage(
        prompt_tokens=_count(raw, "input_tokens") + cache_read + cache_write,
        completion_tokens=output,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking,
        web_search_requests=_count(raw.get("server_tool_use"), "web_search_requests"),
        reasoning_estimated=not reported and thinking > 0,
    )


def thinking_detail(index: int, text: str, signature: str | None = None) -> JSON:
    detail: JSON = {"type": "reasoning.text", "text": text, "format": REASONING_FORMAT, "index": index}
    if signature is not None:
        detail["signature"] = signature
    return detail


def redacted_detail(index: int, data: str) -> JSON:
    return {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": index}


def url_citations(raw: Any) -> list[JSON]:
    """A text block's web-search citations as OpenRouter `url_citation` annotations (document citations have no URL)."""
    out: list[JSON] = []
    for c in raw if isinstance(raw, list) else ():
        if isinstance(c, dict) and c.get("type") == "web_search_result_location" and isinstance(c.get("url"), str):
            note = {"url": c["url"], "title": c.get("title") or "", "content": c.get("cited_text") or ""}
            out.append({"type": "url_citation", "url_citation": note})
    return out


def refusal_of(raw: JSON) -> str:
    """The refusal text for a `refusal` stop: Anthropic's explanation, else its policy category."""
    found = raw.get("stop_details")
    details: JSON = found if isinstance(found, dict) else {}
    explanation = details.get("explanation")
    if isinstance(explanation, str) and explanation:
        return explanation
    category = details.get("category")
    return f"The model declined the request ({category})." if category else "The model declined the request."


def from_anthropic_message(raw: Any, target: Target) -> ChatResult:
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        raise bad_response(target, "not an Anthropic message")
    texts: list[str] = []
    reasoning: list[str] = []
    details: list[JSON] = []
    calls: list[ToolCall] = []
    annotations: list[JSON] = []
    for block in raw["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
            annotations.extend(url_citations(block.get("citations")))
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            details.append(thinking_detail(len(details), block.get("thinking") or "", block.get("signature")))
        elif kind == "redacted_thinking":
            details.append(redacted_detail(len(details), block.get("data") or ""))
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            calls.append(ToolCall(block.get("id") or "", block.get("name") or "", args))
    native = raw.get("stop_reason")
    return ChatResult(
        content="".join(texts) if texts or not calls else None,
        finish_reason=to_finish_reason(native),
        native_finish_reason=native,
        refusal=refusal_of(raw) if native == "refusal" else None,
        annotations=annotations or None,
        reasoning="".join(reasoning) or None,
        reasoning_details=details or None,
        tool_calls=calls or None,
        usage=from_anthropic_usage(raw.get("usage"), sum(len(r) for r in reasoning)),
        upstream_id=raw.get("id"),
    )


def from_anthropic_error(status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
    """Status first; an `overloaded_error` type marks overload whatever the status."""
    kind = None
    try:
        raw = orjson.loads(body)
        err_type = raw.get("error", {}).get("type") if isinstance(raw, dict) else None
    except (orjson.JSONDecodeError, AttributeError):
        err_type = None
    if err_type == "overloaded_error":
        kind = ErrorKind.PROVIDER_OVERLOADED
    return upstream_error(status, headers, body, target.provider_name, kind=kind)


class AnthropicStreamDecoder:
    """State for one Messages stream: block kinds by index, tool ordinals, usage so far, stop reason."""

    __slots__ = (
        "_args", "_blocks", "_chars", "_done", "_emitted", "_reasoning_chars", "_stop", "_target", "_thinking", "_tools",
        "_usage",
    )

    def __init__(self, target: Target) -> None:
        self._target = target
        self._blocks: dict[int, str] = {}  # content block index -> block type
        self._tools: dict[int, int] = {}  # content block index -> tool call ordinal
        self._args: set[int] = set()  # tool blocks whose arguments have started
        self._thinking: dict[int, int] = {}  # content block index -> reasoning detail ordinal
        self._usage: JSON = {}
        self._stop: str | None = None
        self._chars = 0  # output characters seen, for a cut stream's usage
        self._reasoning_chars = 0
        self._emitted = False  # whether any delta went out (before that, a failure may still fall back)
        self._done = False

    def feed(self, event: SSEEvent) -> Iterable[StreamEvent]:
        if self._done:
            return ()
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self._done = True
            return (StreamFailure(bad_response(self._target, "a stream event is not JSON")),)
        if not isinstance(data, dict):
            return ()
        kind = data.get("type") or event.event
        if kind in ("content_block_delta", "content_block_start"):
            index = int(data.get("index") or 0)
            if kind == "content_block_delta":
                out = self._delta(index, data.get("delta") or {})
            else:
                out = self._start(index, data.get("content_block") or {})
            self._emitted = self._emitted or bool(out)
            return out
        if kind == "message_start":
            self._usage.update((data.get("message") or {}).get("usage") or {})
        elif kind == "message_delta":
            self._stop = (data.get("delta") or {}).get("stop_reason") or self._stop
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        elif kind == "content_block_stop":
            return self._stop_block(int(data.get("index") or 0))
        elif kind == "message_stop":
            return self._end()
        elif kind == "error":
            return self._error(data.get("error") or {})
        return ()  # ping, and event types added later

    def _start(self, index: int, block: JSON) -> list[StreamEvent]:
        kind = str(block.get("type"))
        self._blocks[index] = kind
        if kind == "text" and block.get("text"):
            self._chars += len(block["text"])
            return [TextDelta(block["text"])]
        if kind == "thinking":
            self._thinking[index] = len(self._thinking)
            if block.get("thinking"):
                return [ReasoningDelta(block["thinking"], [thinking_detail(self._thinking[index], block["thinking"])])]
        elif kind == "redacted_thinking":
            self._thinking[index] = len(self._thinking)
            return [ReasoningDelta(None, [redacted_detail(self._thinking[index], block.get("data") or "")])]
        elif kind == "tool_use":
            self._tools[index] = len(self._tools)
            start = block.get("input")
            args = orjson.dumps(start).decode() if isinstance(start, dict) and start else ""
            if args:
                self._args.add(index)
            return [ToolCallDelta(self._tools[index], block.get("id") or "", block.get("name") or "", args)]
        return []

    def _stop_block(self, index: int) -> list[StreamEvent]:
        """A tool call that streamed no input (a tool without parameters) still has `{}` as its arguments."""
        if index in self._tools and index not in self._args:
            self._args.add(index)
            return [ToolCallDelta(self._tools[index], None, None, "{}")]
        return []

    def _delta(self, index: int, delta: JSON) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            self._chars += len(text)
            return [TextDelta(text)] if text else []
        if kind == "thinking_delta":
            text = delta.get("thinking") or ""
            self._chars += len(text)
            self._reasoning_chars += len(text)
            return [ReasoningDelta(text, [thinking_detail(self._thinking.get(index, 0), text)])] if text else []
        if kind == "signature_delta":
            detail = thinking_detail(self._thinking.get(index, 0), "", delta.get("signature") or "")
            return [ReasoningDelta(None, [detail])]
        if kind == "input_json_delta" and index in self._tools:
            part = delta.get("partial_json") or ""
            self._chars += len(part)
            if part:
                self._args.add(index)
            return [ToolCallDelta(self._tools[index], None, None, part)] if part else []
        return []

    def _error(self, err: JSON) -> list[StreamEvent]:
        self._done = True
        kind, failure = ERROR_TYPES.get(str(err.get("type")), (ErrorKind.PROVIDER_SERVER_ERROR, FailureClass.TRANSIENT))
        # Usage goes out only after content: a failure as the first event lets dispatch fall back.
        out: list[StreamEvent] = [UsageReport(self._partial_usage())] if self._usage and self._emitted else []
        error = UpstreamError(
            kind,
            f"{self._target.provider_name} failed mid-stream: {err.get('message') or err.get('type')}",
            provider=self._target.provider_name,
            failure=failure,
            raw=err,
        )
        out.append(StreamFailure(error))
        return out

    def _partial_usage(self) -> Usage:
        usage = from_anthropic_usage(self._usage, self._reasoning_chars)
        estimated = (self._chars + 3) // 4
        if estimated > usage.completion_tokens:
            usage.completion_tokens = estimated
            usage.estimated = True
        return usage

    def close(self) -> Iterable[StreamEvent]:
        if self._done:
            return ()
        if self._stop is not None:  # message_delta came; only message_stop is missing
            return self._end()
        self._done = True
        out: list[StreamEvent] = [UsageReport(self._partial_usage())] if self._usage and self._emitted else []
        out.append(StreamFailure(bad_response(self._target, "the stream ended before message_stop")))
        return out

    def _end(self) -> list[StreamEvent]:
        self._done = True
        usage = from_anthropic_usage(self._usage, self._reasoning_chars)
        if self._stop is None:
            return [UsageReport(usage), StreamFailure(bad_response(self._target, "message_stop came without a stop reason"))]
        return [UsageReport(usage), Finish(to_finish_reason(self._stop), self._stop)]
