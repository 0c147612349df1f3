"""Prompt-cache sticky routing: a conversation keeps going to the endpoint that holds its cache.

A provider's prompt cache lives on that provider: once a conversation's prefix is cached there,
sending the next turn elsewhere pays the full prompt price again. So, like OpenRouter, after a
successful request for which the endpoint reported cache reads or writes (or, when the caller
named the conversation with a `session_id`, after its first success), the same key's next
requests for the same model and conversation go to that endpoint first, while it is healthy.

The conversation is, in order: the body's `session_id`, the `x-session-id` header (each up to
256 characters), `prompt_cache_key`, else a hash of the first system/developer message and the
first other message. Stickiness applies only where caching pays (the endpoint's cache-read price
is below its prompt price) and never when the caller pinned `provider.order`; errors never
update an entry; an entry idle for 10 minutes is gone. Entries live in this process's memory,
bounded, least recently used out. The routing decision is the attempt's `reason`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turnout.core.catalog.catalog import Endpoint
from turnout.model.chat import ChatRequest, ImagePart, Message, TextPart
from turnout.model.errors import invalid
from turnout.model.result import Usage

IDLE_SECONDS = 600.0  # an entry not used for 10 minutes is forgotten (OpenRouter's TTL)
MAX_SESSION_ID = 256  # characters of a session id: longer ones are refused (the body) or ignored (the header)
SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True, slots=True)
class Conversation:
    """Which conversation a request belongs to, and whether the caller named it."""

    key: str
    named: bool  # session_id / x-session-id: sticky from the first success


def session_id(body: dict[str, Any]) -> str | None:
    """The body's `session_id` (OpenRouter's chat and messages extension), validated."""
    value = body.get("session_id")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SESSION_ID:
        raise invalid("session_id", f"'session_id' must be a string of at most {MAX_SESSION_ID} characters")
    return value or None


def caching_pays(endpoint: Endpoint) -> bool:
    """Whether the endpoint reads its cache for less than a fresh prompt costs."""
    read = endpoint.pricing.input_cache_read
    return read is not None and read < endpoint.pricing.prompt


def _content_digest(h: hashlib.blake2b, message: Message) -> None:
    h.update(message.role.encode())
    h.update(b"\0")
    content = message.content
    if isinstance(content, str):
        h.update(content.encode())
    elif content is not None:
        for part in content:
            if isinstance(part, TextPart):
                h.update(b"t" + part.text.encode())
            elif isinstance(part, ImagePart):
                h.update(b"i" + part.url.encode())
            else:
                h.update(repr(part).encode())
            h.update(b"\0")
    h.update(b"\1")


def conversation_of(request: ChatRequest, header_session: str | None) -> Conversation:
    """The conversation key (see the module docstring for the order)."""
    if request.session_id:
        return Conversation("s:" + request.session_id, True)
    if header_session and len(header_session) <= MAX_SESSION_ID:
        return Conversation("s:" + header_session, True)
    cache_key = request.extra.get("prompt_cache_key") if request.extra else None
    if isinstance(cache_key, str) and cache_key:
        return Conversation("p:" + cache_key[:MAX_SESSION_ID], False)
    h = hashlib.blake2b(digest_size=16)
    system = next((m for m in request.messages if m.role in SYSTEM_ROLES), None)
    first = next((m for m in request.messages if m.role not in SYSTEM_ROLES), None)
    for message in (system, first):
        if message is not None:
            _content_digest(h, message)
        h.update(b"\2")
    return Conversation("h:" + h.hexdigest(), False)


class StickyRoutes:
    """(key, model, conversation) -> the endpoint key that served it, least recently used out."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, model: str, conversation: str) -> str | None:
        """The endpoint key this conversation sticks to, if its entry is still fresh."""
        slot = (key, model, conversation)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        if self._clock() - entry[1] > IDLE_SECONDS:
            del self._entries[slot]
            return None
        return entry[0]

    def observe(self, key: str, endpoint: Endpoint, conversation: Conversation, usage: Usage) -> None:
        """A request succeeded on `endpoint`: start, move or refresh the conversation's entry."""
        if self.max_entries <= 0 or not caching_pays(endpoint):
            return
        slot = (key, endpoint.model_id, conversation.key)
        cached = usage.cached_tokens > 0 or usage.cache_write_tokens > 0
        if not (conversation.named or cached or slot in self._entries):
            return  # unnamed: sticky only once the provider says it cached something
        self._entries[slot] = (endpoint.key, self._clock())
        self._entries.move_to_end(slot)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def order(self, endpoints: list[Endpoint], sticky_key: str,
              healthy: Callable[[str], bool]) -> list[Endpoint] | None:
        """`endpoints` with the sticky one first (None when it is not among them or not healthy)."""
        for i, e in enumerate(endpoints):
            if e.key == sticky_key:
                if not healthy(e.key):
                    return None
                return [e, *endpoints[:i], *endpoints[i + 1:]]
        return None
