"""The request path every inbound dialect shares: route, admit, dispatch, price, record.

An inbound dialect translates its wire request into a `ChatRequest`, authenticates, then calls
`complete` or `stream` here and encodes what comes back; it never sees a provider. Model
fallbacks (`models: [...]`) are tried here, in order, when every endpoint of a model failed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from turnout.core.catalog import Endpoint
from turnout.core.context import RequestContext
from turnout.core.dispatch import Dispatcher
from turnout.core.router import Route, Router, estimate_prompt_tokens, model_chain
from turnout.core.streaming import guarded
from turnout.model.chat import ChatRequest
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import StreamEvent

ATTEMPT_BUDGET_SECONDS = 120.0  # no new attempt starts after this long


@dataclass(slots=True)
class Completion:
    result: ChatResult
    usage: Usage


def _final(exc: GatewayError) -> bool:
    """Errors that another model would not fix: the caller's own request is at fault."""
    return (isinstance(exc, UpstreamError) and exc.failure is FailureClass.CALLER_FAULT) or exc.kind in (
        ErrorKind.CALLER_INVALID_REQUEST, ErrorKind.POLICY_BUDGET_EXCEEDED, ErrorKind.POLICY_RATE_LIMITED,
    )


class Gateway:
    def __init__(self, router: Router, dispatcher: Dispatcher) -> None:
        self.router = router
        self.dispatcher = dispatcher

    async def _routes(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[Route]:
        """The route of each model in the fallback chain, admitting the request once."""
        chain = model_chain(request)
        request.generation_id = ctx.id  # sent upstream where a dialect has a request id (Z.ai)
        admitted = False
        await ctx.rate_limit()  # before resolving: a request for an unknown model counts too
        for i, model_id in enumerate(chain):
            try:
                route = self.router.resolve(request, model_id)
            except GatewayError as exc:
                if i == len(chain) - 1 or _final(exc):
                    raise
                continue
            ctx.model_id = model_id
            if not admitted:
                ctx.prompt_estimate = estimate_prompt_tokens(request)
                # rate limit (429), then hold the worst case (402) over every model that may answer
                await ctx.admit(request, [*route.endpoints, *self._fallback_endpoints(chain[i + 1:])])
                admitted = True
            yield route

    def _fallback_endpoints(self, models: list[str]) -> list[Endpoint]:
        """The catalog endpoints of the fallback models (a superset of their routes, without the
        side effects of resolving them): a pricier fallback must be covered by the hold too."""
        out: list[Endpoint] = []
        for model_id in models:
            try:
                out.extend(self.router.lookup(model_id)[0].endpoints)
            except GatewayError:
                continue
        return out

    async def complete(self, request: ChatRequest, ctx: RequestContext) -> Completion:
        deadline = time.perf_counter() + ATTEMPT_BUDGET_SECONDS
        with ctx.recording_failures():
            result: ChatResult | None = None
            last: GatewayError | None = None
            async for route in self._routes(request, ctx):
                try:
                    result, ctx.endpoint = await self.dispatcher.complete(
                        request, route.endpoints, ctx.attempts, deadline, route.reason
                    )
                    break
                except GatewayError as exc:
                    if _final(exc):
                        raise
                    last = exc
            if result is None:
                assert last is not None
                raise last
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
        self._observe_throughput(ctx, usage)
        ctx.record("ok", usage)
        return Completion(result, usage)

    async def stream(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[StreamEvent]:
        """Resolve and start the stream (errors before the first byte raise); then its events."""
        deadline = time.perf_counter() + ATTEMPT_BUDGET_SECONDS
        with ctx.recording_failures():
            opened = None
            last: GatewayError | None = None
            async for route in self._routes(request, ctx):
                try:
                    opened = await self.dispatcher.open_stream(
                        request, route.endpoints, ctx.attempts, deadline, route.reason
                    )
                    break
                except GatewayError as exc:
                    if _final(exc):
                        raise
                    last = exc
            if opened is None:
                assert last is not None
                raise last
            ctx.endpoint, first, rest = opened
        return guarded(ctx, first, rest, self._observe_stream)

    def _observe_stream(self, ctx: RequestContext, status: str, usage: Usage) -> None:
        """A stream ended: feed its throughput, or its mid-stream failure, to the endpoint's health."""
        if ctx.endpoint is None:
            return
        if status == "ok":
            self._observe_throughput(ctx, usage)
        elif status == "error" and isinstance(ctx.error, UpstreamError):
            self.dispatcher.health.failure(ctx.endpoint.key)

    def _observe_throughput(self, ctx: RequestContext, usage: Usage) -> None:
        endpoint: Endpoint | None = ctx.endpoint
        if endpoint is None or ctx.first_token_at is None or usage.completion_tokens <= 0:
            return
        seconds = time.perf_counter() - ctx.started
        if seconds > 0:
            self.dispatcher.health.throughput(endpoint.key, usage.completion_tokens / seconds)
