"""Canonical results and stream events -> OpenAI Responses objects and typed stream events.

Wire reference: https://platform.openai.com/docs/api-reference/responses-streaming. A stream is
`response.created`, `response.in_progress`, then per output item `response.output_item.added`,
its content events (`response.content_part.added`, `response.output_text.delta` / `.done`,
`response.content_part.done`; `response.function_call_arguments.delta` / `.done`;
`response.reasoning_text.delta` / `.done` or the `reasoning_summary_*` events when a summary was
asked for), `response.output_item.done`; and last `response.completed` (or `response.incomplete`
when the answer was cut by `max_output_tokens`, or `response.failed`). Every event carries a
`sequence_number` counting from 0.

Reasoning text from open models is their raw reasoning, so it goes in the reasoning item's
`content` (`reasoning_text`), as vLLM does; when the request sets `reasoning.summary` it goes in
`summary` instead, where clients that ask for summaries look.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from turnout.api.anthropic.opaque import pack
from turnout.api.openai.encode import completions_cost, cost_number
from turnout.api.responses.errors import error_code
from turnout.api.responses.protocol import ResponsesRequest
from turnout.api.sse import KEEPALIVE, event_frame
from turnout.core.catalog.pricing import ZERO
from turnout.core.context import RequestContext
from turnout.model.chat import JSON, Message, ToolCall
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
from turnout.plugins.web import responses_annotation

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def usage_json(usage: Usage, cost: Decimal, completions_cost: Decimal = ZERO,
               upstream: Decimal | None = None) -> dict[str, Any]:
    """OpenRouter's Responses usage; its strict clients require both sides of `cost_details`."""
    billed = cost if upstream is None else upstream  # BYOK: the split is of what the provider billed
    output_cost = min(completions_cost, billed)
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
        "cost": cost_number(cost),
        "is_byok": upstream is not None,
        "cost_details": {
            "upstream_inference_cost": None if upstream is None else cost_number(upstream),
            "upstream_inference_input_cost": cost_number(billed - output_cost),
            "upstream_inference_output_cost": cost_number(output_cost),
        },
        **({"server_tool_use_details": {"web_search_requests": usage.web_search_requests}}
           if usage.web_search_requests else {}),
    }


def response_json(
    rr: ResponsesRequest, ctx: RequestContext, status: str, output: list[JSON], usage: dict[str, Any] | None,
    *, finish: str | None = None, error: JSON | None = None,
) -> dict[str, Any]:
    chat = rr.chat
    reason = INCOMPLETE.get(finish or "")
    r = chat.reasoning
    return {
        "id": ctx.id,
        "object": "response",
        "created_at": ctx.created,
        "completed_at": int(time.time()) if status == "completed" else None,
        "status": "incomplete" if status == "completed" and reason else status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": reason} if reason and status == "completed" else None,
        "instructions": rr.instructions,
        "max_output_tokens": chat.max_tokens,
        "model": ctx.model_id,
        "provider": ctx.endpoint.provider.name if ctx.endpoint else None,
        "output": output,
        "parallel_tool_calls": chat.parallel_tool_calls is not False,
        "previous_response_id": rr.previous_response_id,
        "reasoning": {"effort": r.effort if r else None, "summary": rr.reasoning_summary},
        "store": rr.store,
        "temperature": chat.temperature,
        "frequency_penalty": chat.frequency_penalty,
        "presence_penalty": chat.presence_penalty,
        "text": {"format": rr.text_format},
        "tool_choice": rr.tool_choice_wire,
        "tools": rr.tools_wire,
        "top_p": chat.top_p,
        "truncation": "disabled",
        "usage": usage,
        "user": chat.user,
        "metadata": rr.metadata,
    }


def reasoning_item(item_id: str, text: str, details: list[JSON] | None, summary: bool) -> JSON:
    item: JSON = {"id": item_id, "type": "reasoning", "summary": []}
    if text:
        if summary:
            item["summary"] = [{"type": "summary_text", "text": text}]
        else:
            item["content"] = [{"type": "reasoning_text", "text": text}]
    if details:
        # Signatures and encrypted reasoning must reach the provider again next turn (opaque.py).
        item["encrypted_content"] = pack(details)
    return item


def message_item(item_id: str, text: str, status: str = "completed", annotations: list[JSON] | None = None) -> JSON:
    return {
        "id": item_id, "type": "message", "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}],
    }


def annotations_of(ctx: RequestContext) -> list[JSON]:
    """The web plugin's citations as Responses `url_citation` annotations (plugins/web.py)."""
    run = ctx.plugins
    if run is None or not run.annotations:
        return []
    return [responses_annotation(a) for a in run.annotations]


def call_item(call: ToolCall, status: str = "completed") -> JSON:
    return {"id": f"fc_{call.id}", "type": "function_call", "status": status, "call_id": call.id, "name": call.name,
            "arguments": call.arguments}


def output_items(rr: ResponsesRequest, ctx: RequestContext, result: ChatResult) -> list[JSON]:
    output: list[JSON] = []
    if result.reasoning or result.reasoning_details:
        output.append(reasoning_item(f"rs_{ctx.id}", result.reasoning or "", result.reasoning_details,
                                     rr.reasoning_summary is not None))
    if result.content:
        output.append(message_item(f"msg_{ctx.id}", result.content, annotations=annotations_of(ctx)))
    output.extend(call_item(c) for c in result.tool_calls or ())
    return output


def assistant_message(result: ChatResult) -> Message:
    """The answer as a canonical turn, for the stored conversation."""
    return Message(role="assistant", content=result.content, tool_calls=result.tool_calls or None,
                   reasoning=result.reasoning, reasoning_details=result.reasoning_details)


class EventEncoder:
    """One stream's typed events; `on_done` gets the finished answer and response object (to store them)."""

    def __init__(
        self, rr: ResponsesRequest, ctx: RequestContext, on_done: Callable[[ChatResult, dict[str, Any]], None]
    ) -> None:
        self._rr = rr
        self._ctx = ctx
        self._on_done = on_done
        self._summary = rr.reasoning_summary is not None
        self._seq = 0
        self._started = False
        self._output: list[JSON] = []
        self._current: str | None = None  # "reasoning" | "message" | "call:<n>"
        self._text = ""
        self._reasoning = ""  # the open reasoning item's text and details
        self._details: list[JSON] = []
        self._all_reasoning = ""  # the whole answer's, for the stored turn
        self._all_details: list[JSON] = []
        self._calls: dict[int, ToolCall] = {}
        self._call_slots: dict[int, int] = {}  # canonical tool index -> output index
        self._usage: dict[str, Any] | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event_frame(kind, payload)

    def _response(self, status: str, **kw: Any) -> dict[str, Any]:
        return response_json(self._rr, self._ctx, status, list(self._output), self._usage, **kw)

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._event("response.created", response=self._response("in_progress")) + self._event(
            "response.in_progress", response=self._response("in_progress")
        )

    def _open(self, name: str, item: JSON) -> bytes:
        out = self._close()
        self._current = name
        self._output.append(item)
        return out + self._event("response.output_item.added", output_index=len(self._output) - 1, item=item)

    def _close(self) -> bytes:
        name, self._current = self._current, None
        if name is None:
            return b""
        index = len(self._output) - 1
        item = self._output[index]
        out = b""
        if name == "message":
            cites = annotations_of(self._ctx)
            part = {"type": "output_text", "text": self._text, "annotations": cites, "logprobs": []}
            out += self._event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                               text=self._text, logprobs=[])
            out += self._event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
            item = self._output[index] = message_item(item["id"], self._text, annotations=cites)
        elif name == "reasoning":
            if self._summary:
                part = {"type": "summary_text", "text": self._reasoning}
                out += self._event("response.reasoning_summary_text.done", item_id=item["id"], output_index=index,
                                   summary_index=0, text=self._reasoning)
                out += self._event("response.reasoning_summary_part.done", item_id=item["id"], output_index=index,
                                   summary_index=0, part=part)
            else:
                out += self._event("response.reasoning_text.done", item_id=item["id"], output_index=index,
                                   content_index=0, text=self._reasoning)
            item = self._output[index] = reasoning_item(item["id"], self._reasoning, self._details, self._summary)
        else:
            call = self._calls[int(name.split(":")[1])]
            out += self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                               name=call.name, arguments=call.arguments)
            item = self._output[index] = call_item(call)
        return out + self._event("response.output_item.done", output_index=index, item=item)

    def _text_delta(self, text: str) -> bytes:
        out = b""
        if self._current != "message":
            self._text = ""
            item_id = f"msg_{self._ctx.id}" + (f"_{len(self._output)}" if self._output else "")
            out += self._open("message", {**message_item(item_id, "", "in_progress"), "content": []})
            out += self._event("response.content_part.added", item_id=item_id, output_index=len(self._output) - 1,
                               content_index=0, part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        self._text += text
        item_id = self._output[-1]["id"]
        return out + self._event("response.output_text.delta", item_id=item_id, output_index=len(self._output) - 1,
                                 content_index=0, delta=text, logprobs=[])

    def _reasoning_delta(self, text: str | None, details: list[JSON] | None) -> bytes:
        out = b""
        if self._current != "reasoning":
            self._reasoning, self._details = "", []
            item_id = f"rs_{self._ctx.id}" + (f"_{len(self._output)}" if self._output else "")
            out += self._open("reasoning", {"id": item_id, "type": "reasoning", "summary": []})
            if self._summary:
                out += self._event("response.reasoning_summary_part.added", item_id=item_id,
                                   output_index=len(self._output) - 1, summary_index=0,
                                   part={"type": "summary_text", "text": ""})
        self._details.extend(details or ())
        self._all_details.extend(details or ())
        if text is None and details:
            text = "".join(d.get("text") or "" for d in details if d.get("type") == "reasoning.text") or None
        if not text:
            return out
        self._reasoning += text
        self._all_reasoning += text
        item_id, index = self._output[-1]["id"], len(self._output) - 1
        if self._summary:
            return out + self._event("response.reasoning_summary_text.delta", item_id=item_id, output_index=index,
                                     summary_index=0, delta=text)
        return out + self._event("response.reasoning_text.delta", item_id=item_id, output_index=index,
                                 content_index=0, delta=text)

    def _call_delta(self, event: ToolCallDelta) -> bytes:
        out = b""
        call = self._calls.get(event.index)
        if call is None:
            call = self._calls[event.index] = ToolCall(event.id or f"call_{event.index}", event.name or "", "")
            out += self._open(f"call:{event.index}", call_item(call, "in_progress"))
            self._call_slots[event.index] = len(self._output) - 1
        if event.arguments:
            call.arguments += event.arguments
            index = self._call_slots[event.index]
            out += self._event("response.function_call_arguments.delta", item_id=f"fc_{call.id}", output_index=index,
                               delta=event.arguments)
        return out

    def result(self, finish: Finish) -> ChatResult:
        return ChatResult(
            content=self._text_of_output() or None, finish_reason=finish.reason, native_finish_reason=finish.native_reason,
            reasoning=self._all_reasoning or None, reasoning_details=self._all_details or None,
            tool_calls=list(self._calls.values()) or None,
        )

    def _text_of_output(self) -> str:
        return "".join(p["text"] for item in self._output if item["type"] == "message" for p in item["content"])

    def encode(self, event: StreamEvent) -> bytes:
        if not self._started and isinstance(event, Heartbeat):  # a stream opened before its answer
            return KEEPALIVE
        out = self._start()
        match event:
            case TextDelta(text=text):
                return out + self._text_delta(text)
            case ReasoningDelta(text=text, details=details):
                return out + self._reasoning_delta(text, details)
            case ToolCallDelta():
                return out + self._call_delta(event)
            case UsageReport(usage=usage, cost=cost):
                self._usage = usage_json(usage, cost or ZERO, completions_cost(self._ctx, usage), self._ctx.upstream_cost)
                return out
            case Finish():
                out += self._close()
                response = self._response("completed", finish=event.reason)
                self._on_done(self.result(event), response)
                kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
                return out + self._event(kind, response=response)
            case StreamFailure(error=error):
                out += self._close()
                failed = self._response("failed", error={"code": error_code(error), "message": error.message})
                return out + self._event("response.failed", response=failed)
            case Heartbeat():
                return out if out else KEEPALIVE
        raise AssertionError(event)

