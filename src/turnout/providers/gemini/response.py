"""Gemini `GenerateContentResponse`s -> canonical results, stream events and errors.

Parts map as: `text` -> content, `text` with `thought: true` -> reasoning, `functionCall` -> a tool
call (Gemini may omit the id: one is made up, `call_gemini_<n>`, and never sent back), and a
part's `thoughtSignature` -> a `reasoning.encrypted` detail (with the call's id when it rode on a
function call) so the next turn can return it. Usage: `promptTokenCount` includes
`cachedContentTokenCount`; completion tokens are `candidatesTokenCount + thoughtsTokenCount`, and
`thoughtsTokenCount` is the reasoning count. A stream (`:streamGenerateContent?alt=sse`) is a
series of whole responses, usage cumulative, the last with a `finishReason`; there is no [DONE]. Every finish reason the SDK declares maps to
an OpenAI finish reason in `FINISH_REASONS` (none falls to `stop`), the native one kept beside it.
"""

from __future__ import annotations

import re
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

from .request import REASONING_FORMAT, SYNTHETIC_ID_PREFIX

# Every FinishReason google-genai declares (google.genai.types.FinishReason), to OpenAI's five.
FINISH_REASONS: Mapping[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "CONTINUATION": "length",  # the per-request token limit cut an unfinished answer
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "ESCALATION": "content_filter",
    "PUP_LIMITED_DISABLED": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "MALFORMED_RESPONSE": "error",
    "IMAGE_OTHER": "error",
    "NO_IMAGE": "error",
    "OTHER": "error",
    "FINISH_REASON_UNSPECIFIED": "error",
}
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def to_finish_reason(native: str | None, called: bool) -> str:
    """An undeclared (newer) reason is an `error`, never a silent `stop`; the native one travels beside it."""
    reason = FINISH_REASONS.get(native or "", "error")
    return "tool_calls" if called and reason == "stop" else reason


def from_gemini_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    thoughts = int(raw.get("thoughtsTokenCount") or 0)
    return Usage(
        prompt_tokens=int(raw.get("promptTokenCount") or 0) + int(raw.get("toolUsePromptTokenCount") or 0),
        completion_tokens=int(raw.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


class PartReader:
    """Turns parts into content, reasoning, details and calls; keeps ordinals across a stream.

    Consecutive thought parts (a stream splits one thought over many chunks) share one detail index.
    """

    __slots__ = ("calls", "details", "thinking")

    def __init__(self) -> None:
        self.calls = 0
        self.details = 0
        self.thinking = False  # the last part was thought text

    def read(self, parts: Any) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, dict):
                continue
            call_id: str | None = None
            thought = False
            fc = part.get("functionCall")
            if isinstance(fc, dict):
                call_id = fc.get("id") or f"{SYNTHETIC_ID_PREFIX}{self.calls}"
                args = orjson.dumps(fc.get("args") or {}).decode()
                out.append(ToolCallDelta(self.calls, call_id, fc.get("name") or "", args))
                self.calls += 1
            elif isinstance(part.get("text"), str) and part["text"]:
                if part.get("thought"):
                    if not self.thinking:
                        self.details += 1
                    detail = {"type": "reasoning.text", "text": part["text"], "format": REASONING_FORMAT, "index": self.details - 1}
                    out.append(ReasoningDelta(part["text"], [detail]))
                    thought = True
                else:
                    out.append(TextDelta(part["text"]))
            signature = part.get("thoughtSignature")
            self.thinking = thought and not signature
            if signature:
                detail = {"type": "reasoning.encrypted", "data": signature, "format": REASONING_FORMAT, "index": self.details}
                if call_id is not None:
                    detail["id"] = call_id
                self.details += 1
                out.append(ReasoningDelta(None, [detail]))
        return out


def first_candidate(raw: JSON) -> JSON:
    candidates = raw.get("candidates")
    return candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict) else {}


def from_gemini_response(raw: Any, target: Target) -> ChatResult:
    if not isinstance(raw, dict) or not ("candidates" in raw or "promptFeedback" in raw):
        raise bad_response(target, "not a GenerateContentResponse")
    candidate = first_candidate(raw)
    events = PartReader().read((candidate.get("content") or {}).get("parts"))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    reasoning = [e.text for e in events if isinstance(e, ReasoningDelta) and e.text]
    details = [d for e in events if isinstance(e, ReasoningDelta) for d in e.details or ()]
    calls = [ToolCall(e.id or "", e.name or "", e.arguments) for e in events if isinstance(e, ToolCallDelta)]
    native = candidate.get("finishReason")
    finish = to_finish_reason(native, bool(calls))
    if not candidate and (raw.get("promptFeedback") or {}).get("blockReason"):
        native, finish = raw["promptFeedback"]["blockReason"], "content_filter"  # the prompt itself was blocked
    return ChatResult(
        content="".join(texts) if texts or not calls else None,
        finish_reason=finish,
        native_finish_reason=native,
        reasoning="".join(reasoning) or None,
        reasoning_details=details or None,
        tool_calls=calls or None,
        usage=from_gemini_usage(raw.get("usageMetadata")),
        upstream_id=raw.get("responseId"),
    )


def retry_delay_of(raw: Any) -> float | None:
    """Gemini's `google.rpc.RetryInfo.retryDelay` ("7s"), where it says when to retry."""
    err = raw.get("error") if isinstance(raw, dict) else None
    for d in (err.get("details") or ()) if isinstance(err, dict) else ():
        m = _DELAY.match(str(d.get("retryDelay") or "")) if isinstance(d, dict) else None
        if m:
            return float(m.group(1))
    return None


def error_reasons(raw: Any) -> set[str]:
    err = raw.get("error") if isinstance(raw, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    return {str(d.get("reason")) for d in details or () if isinstance(d, dict) and d.get("reason")}


def from_gemini_error(status: int, headers: Mapping[str, str], body: bytes, target: Target) -> UpstreamError:
    """Status first; a 400 whose reason is API_KEY_INVALID is our credential, not the caller's request."""
    error = upstream_error(status, headers, body, target.provider_name)
    if "API_KEY_INVALID" in error_reasons(error.metadata.get("raw")):
        error = upstream_error(status, headers, body, target.provider_name, kind=ErrorKind.PROVIDER_AUTH_FAILED)
        error.failure = FailureClass.CREDENTIAL
    if error.retry_after is None:
        error.retry_after = retry_delay_of(error.metadata.get("raw"))
    return error


class GeminiStreamDecoder:
    """One `alt=sse` stream: each event a whole response chunk; the finish waits for the body's end."""

    __slots__ = ("_blocked", "_done", "_emitted", "_native", "_reader", "_target", "_usage")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._reader = PartReader()
        self._usage: Usage | None = None
        self._native: str | None = None
        self._blocked = False  # the native reason is a promptFeedback.blockReason, not a finishReason
        self._emitted = False  # before any delta, a failure goes out alone so dispatch may fall back
        self._done = False

    def feed(self, event: SSEEvent) -> Iterable[StreamEvent]:
        if self._done:
            return ()
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self._done = True
            return (StreamFailure(bad_response(self._target, "a stream chunk is not JSON")),)
        if not isinstance(chunk, dict):
            return ()
        if isinstance(chunk.get("error"), dict):
            self._done = True
            err = chunk["error"]
            kind = ErrorKind.PROVIDER_OVERLOADED if err.get("status") == "UNAVAILABLE" else ErrorKind.PROVIDER_SERVER_ERROR
            failure = FailureClass.RATE_LIMIT if kind is ErrorKind.PROVIDER_OVERLOADED else FailureClass.TRANSIENT
            message = f"{self._target.provider_name} failed mid-stream: {err.get('message')}"
            out: list[StreamEvent] = [UsageReport(self._usage)] if self._usage and self._emitted else []
            out.append(StreamFailure(UpstreamError(kind, message, provider=self._target.provider_name, failure=failure, raw=err)))
            return out
        usage = from_gemini_usage(chunk.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        candidate = first_candidate(chunk)
        events = self._reader.read((candidate.get("content") or {}).get("parts"))
        self._emitted = self._emitted or bool(events)
        if candidate.get("finishReason"):
            self._native = candidate["finishReason"]
        elif not candidate and (chunk.get("promptFeedback") or {}).get("blockReason"):
            self._native = str(chunk["promptFeedback"]["blockReason"])  # the prompt itself was blocked
            self._blocked = True
        return events

    def close(self) -> Iterable[StreamEvent]:
        if self._done:
            return ()
        self._done = True
        finished = self._native is not None
        out: list[StreamEvent] = [UsageReport(self._usage)] if self._usage and (finished or self._emitted) else []
        if self._native is None:
            out.append(StreamFailure(bad_response(self._target, "the stream ended before a finish reason")))
        else:
            finish = "content_filter" if self._blocked else to_finish_reason(self._native, self._reader.calls > 0)
            out.append(Finish(finish, self._native))
        return out
