"""The canonical outcome of one chat completion: a whole result, and the token usage behind it."""

from __future__ import annotations

from dataclasses import dataclass

from turnout.model.chat import JSON, ToolCall

FinishReason = str  # one of FINISH_REASONS
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "error"})


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them (OpenAI conventions).

    `prompt_tokens` includes cached and cache-write tokens; `completion_tokens` includes
    reasoning tokens. `estimated` is set when the provider reported nothing and turnout counted;
    `reasoning_estimated` when only the reasoning share was counted by turnout (the provider gave
    the totals but no thinking count).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    web_search_requests: int = 0
    estimated: bool = False
    reasoning_estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatResult:
    content: str | None
    finish_reason: FinishReason
    native_finish_reason: str | None = None
    reasoning: str | None = None
    reasoning_details: list[JSON] | None = None
    tool_calls: list[ToolCall] | None = None
    annotations: list[JSON] | None = None
    logprobs: JSON | None = None
    usage: Usage | None = None
    upstream_id: str | None = None
    refusal: str | None = None
