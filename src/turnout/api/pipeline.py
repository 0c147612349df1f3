"""Opening an inference request, the same way for every dialect: body, key, parse, context.

Each inference route (chat completions, legacy completions, embeddings, Anthropic Messages,
Responses) starts with `open_inference`: the key authenticated first (a keyless request costs no
read), the body read within its size limit and the process's body budget (api/body.py), the body parsed into the dialect's request (counted against the key's parsing
rate, core/money/ratelimit.py) and, once the model is known, a `RequestContext` built from the
headers. The route then calls the gateway and encodes the answer: nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.requests import Request

from turnout.api.auth import authenticate
from turnout.api.preferences import parse_preferences
from turnout.core.context import RequestContext
from turnout.core.money.keys import KeyState
from turnout.model.chat import JSON
from turnout.runtime import Runtime

T = TypeVar("T")


@dataclass(slots=True)
class Opened(Generic[T]):
    request: Request
    rt: Runtime
    key: KeyState
    body: Any  # the decoded JSON body (presets and the response cache read it)
    parsed: T

    @property
    def preset(self) -> Any:
        """The body's `preset` field (OpenRouter's), when the body is an object."""
        return self.body.get("preset") if isinstance(self.body, dict) else None

    def context(self, dialect: str, model: str, *, streamed: bool, provider: JSON | None) -> RequestContext:
        """The request's context, with its `provider` preferences parsed (a 400 naming the field)."""
        preferences = parse_preferences(provider)
        headers = self.request.headers
        return RequestContext(
            accountant=self.rt.accountant,
            key=self.key,
            dialect_in=dialect,
            model_id=model,
            streamed=streamed,
            app_title=headers.get("x-title") or headers.get("x-openrouter-title"),
            app_referer=headers.get("http-referer") or headers.get("referer"),
            app_categories=headers.get("x-openrouter-categories"),
            session_header=headers.get("x-session-id"),
            preferences=preferences,
        )


async def open_inference(request: Request, parse: Callable[[Any, KeyState], T], *,
                         prepare: Callable[[Any, KeyState], Awaitable[None]] | None = None) -> Opened[T]:
    """The request read, authenticated and parsed: `parse(body, key)` (the key for what is kept
    per key, such as Responses' stored conversations); `prepare(body, key)`, when given, runs
    before the parse (Responses loads a stored chain made on another replica)."""
    rt: Runtime = request.app.state.runtime
    key = await authenticate(request.headers, rt.keys)  # before the body: a keyless request costs no read
    body = await rt.bodies.json(request, rt.settings.max_body_bytes)
    if prepare is not None:
        await prepare(body, key)
    parsed = await rt.limiter.parsing(key, lambda: parse(body, key))
    return Opened(request, rt, key, body, parsed)
