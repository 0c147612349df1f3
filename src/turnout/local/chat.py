"""Chat on top of the engine: messages in; content pieces, tool calls and usage out.

:func:`prepare_chat` turns OpenAI-shaped chat fields (``messages``, ``tools``,
``tool_choice``, ``response_format``) and sampler settings into one
:class:`~.engine.GenerationRequest` (prompt, stop sequences, grammar);
:func:`stream_chat` runs it and reads the output back according to the grammar branch:

* plain text and JSON are streamed as they come (leading blanks of the turn dropped);
* a forced tool call is buffered and emitted once, parsed, when the grammar closes it;
* with ``tool_choice="auto"`` the first non-blank character tells which branch the
  grammar took (``{`` = call), so text still streams token by token.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .engine import Finished, GenerationRequest, LocalEngine, SamplingParams, TextDelta
from .grammar import ToolCall, constraint_for, parse_tool_call
from .prompt import build_prompt

__all__ = ["ChatDone", "ContentDelta", "PreparedChat", "ToolCallEvent", "complete_chat", "prepare_chat", "stream_chat"]

Mode = Literal["text", "json", "tool", "tool_or_text"]


@dataclass(frozen=True)
class PreparedChat:
    """A chat request rendered for the base model."""

    request: GenerationRequest
    mode: Mode
    tools: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ContentDelta:
    """A piece of the assistant's text."""

    text: str


@dataclass(frozen=True)
class ToolCallEvent:
    """One complete tool call (``index`` is its position among this turn's calls)."""

    call: ToolCall
    index: int = 0


@dataclass(frozen=True)
class ChatDone:
    """End of the turn: finish reason (OpenAI vocabulary), real token counts, the whole output."""

    finish_reason: Literal["stop", "length", "tool_calls", "cancelled"]
    prompt_tokens: int
    completion_tokens: int
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    generation_ms: float = 0.0
    cached_tokens: int = 0  # prompt tokens whose KV cache llama.cpp reused from an earlier request

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def prepare_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    sampling: SamplingParams | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    response_format: Mapping[str, Any] | None = None,
) -> PreparedChat:
    """Render a chat request: prompt and stop sequences, sampler, grammar.

    ``tools`` are OpenAI tool objects (``{"type": "function", "function": {...}}``) or bare
    function objects (``{"name", "description", "parameters"}``).
    """
    sampling = sampling or SamplingParams()
    functions = tuple(t.get("function", t) for t in (tools or ()))
    constraint = constraint_for(response_format=response_format, tools=functions or None, tool_choice=tool_choice)
    listed = functions if functions and tool_choice != "none" else ()
    prompt = build_prompt(
        messages,
        tools=listed or None,
        json_output=constraint is not None and constraint.mode == "json",
        extra_stop=tuple(sampling.stop),
    )
    mode: Mode = constraint.mode if constraint is not None else "text"
    request = GenerationRequest(prompt=prompt.text, sampling=replace(sampling, stop=prompt.stop), constraint=constraint)
    return PreparedChat(request=request, mode=mode, tools=listed)


async def stream_chat(
    engine: LocalEngine, prepared: PreparedChat
) -> AsyncGenerator[ContentDelta | ToolCallEvent | ChatDone, None]:
    """Run a prepared chat; yields content pieces and/or tool calls, then one :class:`ChatDone`."""
    buffering = prepared.mode == "tool"
    decided = prepared.mode != "tool_or_text"
    started = False  # has any visible text been emitted yet (for dropping leading blanks)
    held: list[str] = []
    agen = engine.stream(prepared.request)
    try:
        async for event in agen:
            if isinstance(event, TextDelta):
                if buffering:
                    held.append(event.text)
                    continue
                if not decided:
                    held.append(event.text)
                    joined = "".join(held).lstrip()
                    if not joined:
                        continue
                    decided = True
                    if joined.startswith("{"):
                        buffering = True
                        continue
                    held.clear()
                    started = True
                    yield ContentDelta(joined)
                    continue
                text = event.text if started else event.text.lstrip()
                if text:
                    started = True
                    yield ContentDelta(text)
                continue
            done = _done(prepared, event)
            for i, call in enumerate(done.tool_calls):
                yield ToolCallEvent(call, i)
            if buffering and done.content:
                yield ContentDelta(done.content)  # a call cut short by max_tokens: show what came
            yield done
            return
    finally:
        await agen.aclose()


def _done(prepared: PreparedChat, fin: Finished) -> ChatDone:
    text = fin.text.strip() if prepared.mode != "text" else fin.text.lstrip()
    calls: tuple[ToolCall, ...] = ()
    if prepared.mode in ("tool", "tool_or_text"):
        call = parse_tool_call(text, prepared.tools)
        if call is not None:
            calls = (call,)
    if calls:
        return ChatDone(
            "tool_calls", fin.prompt_tokens, fin.completion_tokens, None, calls, fin.generation_ms, fin.cached_tokens
        )
    return ChatDone(
        fin.finish_reason, fin.prompt_tokens, fin.completion_tokens, text, (), fin.generation_ms, fin.cached_tokens
    )


async def complete_chat(engine: LocalEngine, prepared: PreparedChat) -> ChatDone:
    """Run a prepared chat to the end (non-streaming)."""
    agen = stream_chat(engine, prepared)
    try:
        async for event in agen:
            if isinstance(event, ChatDone):
                return event
    finally:
        await agen.aclose()
    raise RuntimeError("the chat stream ended without a final record")
