"""Canonical results and stream events -> Anthropic Messages JSON and SSE events.

A stream is `message_start`, a `ping`, then for each content block `content_block_start`,
`content_block_delta`s (`text_delta`, `thinking_delta`, `signature_delta`, `input_json_delta`) and
`content_block_stop`, then `message_delta` (stop_reason and cumulative usage) and `message_stop`
(https://docs.anthropic.com/en/docs/build-with-claude/streaming). Upstream silence becomes `ping`
events; a failure after the stream began becomes an `error` event in Anthropic's envelope.

Usage follows Anthropic's convention: `input_tokens` excludes cache reads and cache writes,
which are reported apart. The input count is only known at the end of a stream, so
`message_start` carries zeros and `message_delta` the cumulative totals (which the SDKs apply).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from turnout.api.anthropic.errors import error_body
from turnout.api.anthropic.opaque import data_of, signature_of
from turnout.api.openai.encode import cost_number
from turnout.api.sse import KEEPALIVE, event_frame
from turnout.core.context import RequestContext
from turnout.model.chat import JSON
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import (
    Finish,
    Heartbeat,
    ReasoningDelta,
    StreamEvent,
    StreamFailure,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from turnout.plugins.web import anthropic_citation

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}
PING = event_frame("ping", {"type": "ping"})


def to_stop_reason(reason: str, native: str | None) -> str:
    if native in ("stop_sequence", "pause_turn", "refusal", "end_turn", "max_tokens", "tool_use"):
        return native  # an Anthropic upstream's own reason survives the round trip
    return STOP_REASONS.get(reason, "end_turn")


def usage_json(usage: Usage, cost: Decimal) -> dict[str, Any]:
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    writes = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens - cached - writes,
        "cache_creation_input_tokens": writes,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
        "cost": cost_number(cost),
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if usage.web_search_requests:
        out["server_tool_use"] = {"web_search_requests": usage.web_search_requests}
    return out


def citations_of(ctx: RequestContext) -> list[JSON]:
    """The web plugin's citations in Anthropic's form (plugins/web.py)."""
    run = ctx.plugins
    if run is None or not run.annotations:
        return []
    return [anthropic_citation(a) for a in run.annotations]


def parse_input(arguments: str) -> JSON:
    """A tool call's JSON text as the `input` object Anthropic requires; bad JSON keeps its text."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"_value": value}


def thinking_blocks(reasoning: str | None, details: list[JSON] | None) -> list[JSON]:
    """Thinking blocks from canonical reasoning: typed details (with signatures) win over bare text.

    Details from other providers keep their provenance inside the opaque strings (opaque.py).
    """
    blocks: list[JSON] = []
    for d in details or ():
        kind = d.get("type")
        if kind == "reasoning.text":
            blocks.append({"type": "thinking", "thinking": d.get("text") or "", "signature": signature_of(d)})
        elif kind == "reasoning.summary":
            blocks.append({"type": "thinking", "thinking": d.get("summary") or "", "signature": signature_of(d)})
        elif kind == "reasoning.encrypted":
            blocks.append({"type": "redacted_thinking", "data": data_of(d)})
    if not blocks and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    return blocks


def message_json(ctx: RequestContext, result: ChatResult, usage: Usage, *, hide_reasoning: bool = False) -> dict[str, Any]:
    content: list[JSON] = [] if hide_reasoning else thinking_blocks(result.reasoning, result.reasoning_details)
    if result.content:
        content.append({"type": "text", "text": result.content})
        if cites := citations_of(ctx):
            content[-1]["citations"] = cites
    for call in result.tool_calls or ():
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": parse_input(call.arguments)})
    return {
        "id": ctx.id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model_id,
        "content": content,
        "stop_reason": to_stop_reason(result.finish_reason, result.native_finish_reason),
        "stop_sequence": None,
        "usage": usage_json(usage, ctx.cost),
    }


class EventEncoder:
    """One stream's events. Blocks open and close as the canonical deltas change kind."""

    def __init__(self, ctx: RequestContext, *, hide_reasoning: bool = False) -> None:
        self._ctx = ctx
        self._hide_reasoning = hide_reasoning
        self._started = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool:<n>" while a block is open
        self._tool_blocks: dict[int, int] = {}  # canonical tool index -> block index
        self._usage: dict[str, Any] | None = None

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self._ctx.id,
            "type": "message",
            "role": "assistant",
            "model": self._ctx.model_id,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
        }
        return event_frame("message_start", {"type": "message_start", "message": message}) + PING

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event_frame("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _open_block(self, name: str, block: JSON) -> bytes:
        out = self._close()
        self._index += 1
        self._open = name
        return out + event_frame(
            "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}
        )

    def _delta(self, index: int, delta: JSON) -> bytes:
        return event_frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _reasoning(self, text: str | None, details: list[JSON] | None) -> bytes:
        out = b""
        if text is None and details:
            text = "".join(d.get("text") or "" for d in details if d.get("type") == "reasoning.text") or None
        if text:
            if self._open != "thinking":
                out += self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta(self._index, {"type": "thinking_delta", "thinking": text})
        for d in details or ():
            if d.get("type") == "reasoning.encrypted":
                out += self._open_block("redacted", {"type": "redacted_thinking", "data": data_of(d)})
                out += self._close()
            elif d.get("signature"):
                if self._open != "thinking":
                    out += self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out += self._delta(self._index, {"type": "signature_delta", "signature": signature_of(d)})
        return out

    def encode(self, event: StreamEvent) -> bytes:
        if not self._started and isinstance(event, Heartbeat):  # a stream opened before its answer
            return KEEPALIVE
        out = self._start()
        match event:
            case TextDelta(text=text):
                if self._open != "text":
                    out += self._open_block("text", {"type": "text", "text": ""})
                return out + self._delta(self._index, {"type": "text_delta", "text": text})
            case ReasoningDelta(text=text, details=details):
                return out if self._hide_reasoning else out + self._reasoning(text, details)
            case ToolCallDelta(index=n, id=call_id, name=name, arguments=arguments):
                block = self._tool_blocks.get(n)
                if block is None:
                    out += self._open_block(
                        f"tool:{n}", {"type": "tool_use", "id": call_id or f"toolu_{n}", "name": name or "", "input": {}}
                    )
                    block = self._tool_blocks[n] = self._index
                if arguments:
                    out += self._delta(block, {"type": "input_json_delta", "partial_json": arguments})
                return out
            case UsageReport(usage=usage, cost=cost):
                self._usage = usage_json(usage, cost or Decimal(0))
                return out
            case Finish(reason=reason, native_reason=native):
                if cites := citations_of(self._ctx):  # each citation a delta of a text block
                    if self._open != "text":
                        out += self._open_block("text", {"type": "text", "text": ""})
                    for cite in cites:
                        out += self._delta(self._index, {"type": "citations_delta", "citation": cite})
                out += self._close()
                totals = self._usage or usage_json(Usage(), Decimal(0))
                out += event_frame(
                    "message_delta",
                    {"type": "message_delta", "delta": {"stop_reason": to_stop_reason(reason, native), "stop_sequence": None},
                     "usage": totals},
                )
                return out + event_frame("message_stop", {"type": "message_stop"})
            case StreamFailure(error=error):
                return out + event_frame("error", error_body(error))
            case Heartbeat():
                return out if out else PING
        raise AssertionError(event)

