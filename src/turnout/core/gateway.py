"""The request path every inbound dialect shares: route, admit, dispatch, price, record.

An inbound dialect translates its wire request into a `ChatRequest`, authenticates, then calls
`complete` or `stream` here and encodes what comes back; it never sees a provider. Model
fallbacks (`models: [...]`) are tried here, in order, when every endpoint of a model failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from turnout.core.catalog.catalog import Endpoint
from turnout.core.context import RequestContext
from turnout.core.deadlines import Deadlines, Phase
from turnout.core.money.estimate import estimate_embedding, estimate_prompt
from turnout.core.response_cache import Cached, ResponseCache, recorded
from turnout.core.routing.router import Route, Router, model_chain
from turnout.core.routing.sticky import StickyRoutes, caching_pays, conversation_of
from turnout.core.streaming import guarded
from turnout.core.upstream.dispatch import Attempt, Dispatcher
from turnout.model.chat import ChatRequest, Message
from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.model.result import ChatResult, Usage
from turnout.model.stream import Finish, Heartbeat, StreamEvent, StreamFailure, UsageReport

ZERO = Decimal(0)

if TYPE_CHECKING:
    from turnout.plugins.pipeline import Pipeline

ATTEMPT_BUDGET_SECONDS = 120.0  # no new attempt starts after this long
# An embeddings dispatcher's `embed(request, endpoints, attempts, deadline, reason)`.
Embedding = Callable[[EmbeddingRequest, list[Endpoint], list[Attempt], float, str],
                     Awaitable[tuple[EmbeddingResult, Endpoint]]]


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
    def __init__(self, router: Router, dispatcher: Dispatcher, *, request_timeout: float = 600.0,
                 cache: ResponseCache | None = None, cache_entry_bytes: int = 1 << 20,
                 plugins: Pipeline | None = None, sticky: StickyRoutes | None = None,
                 stream_open_grace: float = 0.0, keepalive_interval: float = 15.0) -> None:
        self.router = router
        self.sticky = sticky
        self.dispatcher = dispatcher
        self.deadlines = Deadlines(request_timeout)  # the whole request's bound (`request_timeout`)
        self.stream_open_grace = stream_open_grace  # 0: a stream opens only with its first event
        self.keepalive_interval = keepalive_interval
        self.cache = cache
        self.cache_entry_bytes = cache_entry_bytes
        self.plugins = plugins  # src/turnout/plugins/: steps around dispatch, when a request has any

    def upstream_phase(self, ctx: RequestContext) -> Phase:
        """Around the part of a request before its answer exists (routing, admission, the upstream
        call up to its first event): the request's deadline starts here and bounds it, and an
        error or a cancellation in it is recorded (core/deadlines.py). A stream's events are held
        to the same deadline in core/streaming.py."""
        return self.deadlines.phase(ctx)

    async def _routes(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[Route]:
        """The route of each model in the fallback chain, admitting the request once."""
        chain = model_chain(request)
        request.generation_id = ctx.id  # sent upstream where a dialect has a request id (Z.ai)
        ctx.prompt = estimate_prompt(request)  # once: every model's context check and the hold use it
        admitted = False
        owner = (ctx.key.account_id, ctx.key.hash) if ctx.key is not None else None
        await ctx.rate_limit()  # before resolving: a request for an unknown model counts too
        for i, model_id in enumerate(chain):
            try:
                route = self._resolve(request, model_id, ctx, last=i == len(chain) - 1, owner=owner)
            except GatewayError as exc:
                if i == len(chain) - 1 or _final(exc):
                    raise
                continue
            ctx.model_id = model_id
            if self.sticky is not None and len(route.endpoints) > 1:
                self._stick(request, ctx, route, self.sticky)
            if not admitted:
                if self.plugins is not None:  # after routing: `:online` has become the web plugin
                    ctx.plugins = self.plugins.start(request, ctx)
                # rate limit (429), then hold the worst case (402) over every model that may answer
                await ctx.admit(request, [*route.endpoints, *self._fallback_endpoints(chain[i + 1:])])
                admitted = True
            if ctx.plugins is not None:
                await ctx.plugins.before(request, route.endpoints, ctx)
            yield route

    def _resolve(self, request: ChatRequest, model_id: str, ctx: RequestContext, *, last: bool,
                 owner: tuple[str, str] | None) -> Route:
        """The model's route; a prompt too long for every endpoint is compressed (middle-out) when
        the request or the config allows it, and routed again."""
        try:
            return self.router.resolve(request, model_id, prompt_tokens=ctx.prompt.typical, owner=owner,
                                       prefs=ctx.preferences)
        except GatewayError as exc:
            if self.plugins is None or not self.plugins.compress(
                    request, ctx, self.router.lookup(model_id)[0].endpoints, exc, last=last):
                raise
        return self.router.resolve(request, model_id, prompt_tokens=ctx.prompt.typical, owner=owner,
                                   prefs=ctx.preferences)

    def _stick(self, request: ChatRequest, ctx: RequestContext, route: Route, sticky: StickyRoutes) -> None:
        """Prompt-cache sticky routing (core/routing/sticky.py): the endpoint holding this conversation's
        cache goes first, unless the caller pinned `provider.order` or it is not healthy."""
        if ctx.preferences.order or not any(caching_pays(e) for e in route.endpoints):
            return
        if route.endpoints[0].byok_id is not None:  # the account's own key always goes first
            return
        if ctx.conversation is None:
            ctx.conversation = conversation_of(request, ctx.session_header)
        target = sticky.get(ctx.key.hash if ctx.key else "", route.model.id, ctx.conversation.key)
        if target is None:
            return
        health = self.dispatcher.health
        ordered = sticky.order(route.endpoints, target, lambda k: not health.recently_failed(k))
        if ordered is not None:
            route.endpoints = ordered
            route.reason = f"sticky: this conversation's prompt cache is on {ordered[0].provider.slug}"

    def _remember(self, ctx: RequestContext, usage: Usage) -> None:
        """A success: the conversation may stick to the endpoint that served it (errors never do)."""
        if self.sticky is not None and ctx.conversation is not None and ctx.endpoint is not None:
            self.sticky.observe(ctx.key.hash if ctx.key else "", ctx.endpoint, ctx.conversation, usage)

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

    async def _cached(self, ctx: RequestContext) -> Cached | None:
        """A stored answer for this request, with the endpoint that made it (else None: a miss)."""
        if ctx.cache is None or self.cache is None:
            return None
        hit = await self.cache.get(ctx.cache.key)
        if hit is None:
            return None
        try:
            model = self.router.lookup(ctx.model_id)[0]
        except GatewayError:
            return None
        endpoint = next((e for e in model.endpoints if e.key == hit.endpoint_key), None)
        if endpoint is None:  # the catalog changed since: answer it afresh
            return None
        ctx.endpoint = endpoint
        ctx.cache_source = hit.source_id
        ctx.attempts.append(Attempt(endpoint.provider.slug, endpoint.upstream_model, "cache_hit", 200, None, 0.0,
                                    model=model.id, reason=f"response cache: replays {hit.source_id}"))
        return hit

    async def complete(self, request: ChatRequest, ctx: RequestContext) -> Completion:
        hit = await self._cached(ctx)
        if hit is not None and hit.result is not None:
            replayed = copy.copy(hit.result)
            replayed.usage = Usage()
            ctx.mark_first_token()
            ctx.finish_reason, ctx.native_finish_reason = replayed.finish_reason, replayed.native_finish_reason
            ctx.record("ok", replayed.usage)  # nothing billable: cost stays 0
            return Completion(replayed, replayed.usage)
        deadline = time.perf_counter() + ATTEMPT_BUDGET_SECONDS
        async with self.upstream_phase(ctx):
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
                raise last or GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider could take the request")
            if ctx.plugins is not None:  # the web search tool's loop: more calls to the endpoint that answered
                endpoint = ctx.endpoint
                if endpoint is None:
                    raise GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider answered the request")

                async def again(req: ChatRequest) -> ChatResult:
                    tried: list[Attempt] = []  # each call of the loop has its own attempt budget
                    try:
                        answer, _ = await self.dispatcher.complete(req, [endpoint], tried, deadline, "web search tool loop")
                    finally:
                        ctx.attempts.extend(tried)
                    return answer

                result = await ctx.plugins.run_loop(request, result, ctx, again)
        ctx.mark_first_token()
        usage = result.usage
        if usage is None:
            out = len(result.content or "") + len(result.reasoning or "")
            out += sum(len(c.arguments) for c in result.tool_calls or ())
            usage = ctx.estimate_usage(out)
            result.usage = usage
        if result.tool_calls and result.finish_reason == "stop":
            result.finish_reason = "tool_calls"
        if ctx.plugins is not None:
            ctx.plugins.after(request, result, ctx)
        ctx.price(usage)
        # a blank native finish reason counts as none (zero-completion insurance, plugins/insurance.py)
        ctx.settle(usage, result.finish_reason if result.native_finish_reason or result.finish_reason == "error" else None)
        ctx.finish_reason, ctx.native_finish_reason = result.finish_reason, result.native_finish_reason
        self._observe_throughput(ctx, usage)
        self._remember(ctx, usage)
        ctx.record("ok", usage)
        if ctx.cache is not None and self.cache is not None and ctx.endpoint is not None:
            stored = copy.copy(result)
            stored.usage = None
            cached = Cached(ctx.id, ctx.endpoint.key, result=stored)
            if cached.size() <= self.cache_entry_bytes:
                await self.cache.put(ctx.cache.key, cached, ctx.cache.ttl)
        return Completion(result, usage)

    async def stream(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[StreamEvent]:
        """Resolve and start the stream (errors before the first byte raise); then its events.

        With a `stream_open_grace`, an upstream that has not given its first event within it no
        longer holds the client's answer back: the stream opens at once (its first event a
        `Heartbeat`, one more every keep-alive interval), fallback goes on unseen behind it, and
        an error from then on arrives in-band as a `StreamFailure` (docs/networking.md)."""
        hit = await self._cached(ctx)
        if hit is not None and hit.events is not None:
            return self._replay(ctx, hit.events)
        grace = self.stream_open_grace
        if grace <= 0:
            return await self._open(request, ctx)
        opening = asyncio.get_running_loop().create_task(self._open(request, ctx))
        try:
            done = await _settled(opening, grace)
        except BaseException:  # the client left while we waited
            opening.cancel()
            raise
        if done:
            return opening.result()  # answered within the grace: exactly as without one
        return self._opened_late(opening)

    async def _opened_late(self, opening: asyncio.Task[AsyncIterator[StreamEvent]]) -> AsyncIterator[StreamEvent]:
        """A stream whose answer is still coming: heartbeats until it opens, then its events; a
        failure to open (already recorded, core/context.py) arrives in-band."""
        events: AsyncIterator[StreamEvent] | None = None
        try:
            yield Heartbeat()
            while not await _settled(opening, self.keepalive_interval):
                yield Heartbeat()
            try:
                events = opening.result()
            except GatewayError as exc:
                yield StreamFailure(exc)
                return
            async for event in events:
                yield event
        finally:
            if not opening.done():
                opening.cancel()
                with contextlib.suppress(BaseException):
                    await opening
            closer = getattr(events, "aclose", None)
            if closer is not None:
                await closer()

    async def _open(self, request: ChatRequest, ctx: RequestContext) -> AsyncIterator[StreamEvent]:
        deadline = time.perf_counter() + ATTEMPT_BUDGET_SECONDS
        async with self.upstream_phase(ctx):
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
                raise last or GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider could take the request")
            ctx.endpoint, first, rest = opened
        if ctx.plugins is not None and ctx.plugins.results is not None:
            rest = ctx.plugins.observe(rest)
            ctx.plugins.seen(first)
        events = guarded(ctx, first, rest, self._observe_stream)
        if ctx.cache is None or self.cache is None:
            return events
        cache, policy, endpoint = self.cache, ctx.cache, ctx.endpoint

        async def store(kept: list[StreamEvent]) -> None:
            await cache.put(policy.key, Cached(ctx.id, endpoint.key, events=kept), policy.ttl)

        return recorded(events, self.cache_entry_bytes, store)

    async def _replay(self, ctx: RequestContext, events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """A cached stream, replayed: its deltas, a zero usage report, its finish."""
        status = "cancelled"
        try:
            ctx.mark_first_token()
            for event in events:
                if isinstance(event, Finish):
                    yield UsageReport(Usage(), ZERO)
                    ctx.finish_reason, ctx.native_finish_reason = event.reason, event.native_reason
                    status = "ok"
                yield event
        finally:
            ctx.record(status, Usage())

    def _observe_stream(self, ctx: RequestContext, status: str, usage: Usage) -> None:
        """A stream ended: feed its throughput, or its mid-stream failure, to the endpoint's health."""
        if ctx.endpoint is None:
            return
        if status == "ok":
            self._observe_throughput(ctx, usage)
            self._remember(ctx, usage)
        elif status == "error" and isinstance(ctx.error, UpstreamError):
            self.dispatcher.health.failure(ctx.endpoint.key)

    def _observe_throughput(self, ctx: RequestContext, usage: Usage) -> None:
        endpoint: Endpoint | None = ctx.endpoint
        if endpoint is None or ctx.first_token_at is None or usage.completion_tokens <= 0:
            return
        seconds = time.perf_counter() - ctx.started
        if seconds > 0:
            self.dispatcher.health.throughput(endpoint.key, usage.completion_tokens / seconds)

    async def embed(self, request: EmbeddingRequest, ctx: RequestContext, embedder: Embedding) -> EmbeddingResult:
        """An embeddings request through the same path as chat: rate limit, route, hold, then the
        dispatcher's attempt loop under the same attempt cap and deadline; recorded either way."""
        deadline = time.perf_counter() + ATTEMPT_BUDGET_SECONDS
        async with self.upstream_phase(ctx):
            await ctx.rate_limit()  # before resolving: a request for an unknown model counts too
            stand_in = embedding_stand_in(request)
            route = self.router.resolve(stand_in, kind="embedding", prefs=ctx.preferences)
            ctx.prompt = estimate_embedding(request)
            await ctx.admit(stand_in, route.endpoints)  # rate limit (429), then hold the worst case (402)
            result, ctx.endpoint = await embedder(request, route.endpoints, ctx.attempts, deadline, route.reason)
        ctx.first_token_at = time.perf_counter()
        usage = result.usage or Usage(prompt_tokens=ctx.prompt_estimate, estimated=True)
        result.usage = usage
        ctx.price(usage)
        ctx.finish_reason = "stop"
        ctx.record("ok", usage)
        return result



def _wake(waiter: asyncio.Future[None], *_: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _settled(task: asyncio.Task[AsyncIterator[StreamEvent]], seconds: float) -> bool:
    """Whether `task` is done within `seconds` (it goes on either way). Lighter than asyncio.wait:
    this runs once per streamed request."""
    if task.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(seconds, _wake, waiter)
    woken = functools.partial(_wake, waiter)
    task.add_done_callback(woken)
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(woken)
    return task.done()


def embedding_stand_in(request: EmbeddingRequest) -> ChatRequest:
    """What the router needs to pick embedding endpoints: the model and the provider preferences.

    No text: input length is the provider's to judge (OpenAI refuses inputs past its limit, the
    local MiniLM truncates at 256 tokens), not a chat context-length check's.
    """
    return ChatRequest(model=request.model, messages=[Message(role="user", content="")], provider=request.provider)
