"""The request path every inbound dialect shares: route, dispatch, price, record.

An inbound dialect translates its wire request into a `ChatRequest`, authenticates, then calls
`complete` or `stream` here and encodes what comes back; it never sees a provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from turnout.core.context import RequestContext
from turnout.core.dispatch import Dispatcher
from turnout.core.router import Router, estimate_prompt_tokens
from turnout.core.streaming import guarded
from turnout.model.chat import ChatRequest
from turnout.model.errors import GatewayError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import StreamEvent


@dataclass(slots=True)
class Completion:
    result: ChatResult
    usage: Usage


class Gateway:
    def __init__(self, router: Router, dispatcher: Dispatcher) -> None:
        self.router = router
        self.dispatcher = dispatcher

    async def complete(self, request: ChatRequest, ctx: RequestContext) -> Completion:
        try:
            route = self.router.resolve(request)
            ctx.prompt_estimate = estimate_prompt_tokens(request)
            result, ctx.endpoint = await self.dispatcher.complete(request, route.endpoints, ctx.attempts)
        except GatewayError as exc:
            ctx.fail(exc)
            ctx.record("error", None)
            exc.generation_id = ctx.id
            raise
        except BaseException:
            ctx.record("cancelled", None)
            raise
        ctx.mark_first_token()
        usage = result.usage
        if usage is None:
            out = len(result.content or "") + len(result.reasoning or "")
            out += sum(len(c.arguments) for c in result.tool_calls or ())
            usage = ctx.estimate_usage(out)
            result.usage = usage
        if result.tool_calls and result.finish_reason == "stop":
            result.finish_reason = "tool_calls"
        ctx.price(usage)
        ctx.finish_reason, ctx.native_finish_reason = result.finish_reason, result.native_finish_reason
        ctx.record("ok", usage)
        return Completion(result, usage)

    async def stream(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[StreamEvent]:
        """Resolve and start the stream (errors before the first byte raise); then its events."""
        try:
            route = self.router.resolve(request)
            ctx.prompt_estimate = estimate_prompt_tokens(request)
            ctx.endpoint, first, rest = await self.dispatcher.open_stream(request, route.endpoints, ctx.attempts)
        except GatewayError as exc:
            ctx.fail(exc)
            ctx.record("error", None)
            exc.generation_id = ctx.id
            raise
        except BaseException:
            ctx.record("cancelled", None)
            raise
        return guarded(ctx, first, rest)
