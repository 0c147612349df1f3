"""The `context-compression` plugin, engine `middle-out`: a prompt too long for the model is cut
from the middle until it fits.

It runs only when routing found no endpoint because of context length (so a prompt that fits
pays nothing), when the request asked for it, or by default when the model's largest endpoint
has at most `DEFAULT_MAX_CONTEXT` tokens, as on OpenRouter; `{"id": "context-compression",
"enabled": false}` turns it off. The system and developer messages at the start, the first other
message and the last message are kept; an assistant message with tool calls and the tool results
that answer it are dropped together (a provider rejects a result without its call). Messages go
from the middle outwards until the prompt fits the largest endpoint's context less `max_tokens`;
if the kept messages alone are too long, the longest kept text is cut in its middle. Sizes are
turnout's stated estimate (core/money/estimate.py: 4 bytes a token plus 4 a message).
"""

from __future__ import annotations

from dataclasses import replace

from turnout.core.money.estimate import estimate_prompt
from turnout.model.chat import ChatRequest, Message

DEFAULT_MAX_CONTEXT = 8192
MARK = "\n[... middle of this message removed to fit the context ...]\n"


def _units(messages: list[Message]) -> list[list[int]]:
    """Indexes of the messages grouped so that a tool call and its results stay together."""
    units: list[list[int]] = []
    for i, m in enumerate(messages):
        if m.role == "tool" and units and (messages[units[-1][0]].tool_calls or messages[units[-1][-1]].role == "tool"):
            units[-1].append(i)
        else:
            units.append([i])
    return units


def _tokens(request: ChatRequest, messages: list[Message]) -> int:
    return estimate_prompt(replace(request, messages=messages)).typical


def middle_out(request: ChatRequest, budget: int) -> dict[str, int] | None:
    """Cut `request.messages` to fit `budget` tokens; what was dropped, or None if nothing helped."""
    messages = request.messages
    before = _tokens(request, messages)
    if before <= budget or budget <= 0:
        return None
    head = 0
    while head < len(messages) and messages[head].role in ("system", "developer"):
        head += 1
    units = _units(messages[head:])
    if len(units) <= 2:
        middle: list[list[int]] = []
    else:
        middle = units[1:-1]
    dropped: set[int] = set()
    # drop from the centre outwards, alternating sides, one unit at a time
    order = []
    lo, hi = (len(middle) - 1) // 2, (len(middle) - 1) // 2 + 1
    while lo >= 0 or hi < len(middle):
        if lo >= 0:
            order.append(middle[lo])
            lo -= 1
        if hi < len(middle):
            order.append(middle[hi])
            hi += 1
    kept = messages
    for unit in order:
        dropped.update(head + i for i in unit)
        kept = [m for i, m in enumerate(messages) if i not in dropped]
        if _tokens(request, kept) <= budget:
            break
    truncated = 0
    while _tokens(request, kept) > budget:
        # the kept messages alone are too long: cut the longest plain text in its middle
        longest = max(range(len(kept)), key=lambda i: len(kept[i].text()))
        text = kept[longest].text()
        excess_chars = (_tokens(request, kept) - budget) * 4 + len(MARK) + 16
        if len(text) <= excess_chars + 32:
            return None  # nothing left to cut: the request cannot fit
        keep = (len(text) - excess_chars) // 2
        kept[longest] = replace(kept[longest], content=text[:keep] + MARK + text[len(text) - keep:])
        truncated += 1
        if truncated > 3:
            return None
    request.messages = kept
    return {"messages_dropped": len(dropped), "messages_truncated": truncated,
            "tokens_before": before, "tokens_after": _tokens(request, kept), "budget": budget}
