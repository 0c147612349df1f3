"""The stream pipeline between dispatch and a dialect encoder: invariants, cost and accounting.

It guarantees the encoder sees any number of deltas, exactly one `UsageReport` (estimated when
the provider sent none, and priced), then exactly one `Finish` or `StreamFailure`, and nothing
after. `finish_reason` is `tool_calls` exactly when tool calls were streamed. Whatever way the
stream ends (finished, failed, cut, past the request's deadline, or the client went away), one
generation record is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from turnout.core.context import RequestContext, internal_error
from turnout.model.errors import ErrorKind, GatewayError
from turnout.model.result import Usage
from turnout.model.stream import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    StreamFailure,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from turnout.observe.shutdown import shutting_down_error


def request_timed_out(seconds: float) -> GatewayError:
    return GatewayError(ErrorKind.PROVIDER_TIMEOUT, f"the request took longer than its {seconds:g} s limit "
                        "(the request_timeout setting)", metadata={"request_timeout": seconds})


async def guarded(
    ctx: RequestContext,
    first: StreamEvent,
    rest: AsyncIterator[StreamEvent],
    observe: Callable[[RequestContext, str, Usage], None] | None = None,
) -> AsyncIterator[StreamEvent]:
    usage: Usage | None = None
    out_chars = 0
    tool_calls = False
    status = "cancelled"
    finish: Finish | None = None
    failure: GatewayError | None = None

    async def events() -> AsyncIterator[StreamEvent]:
        yield first
        async for e in rest:
            yield e

    try:
        async for event in events():
            if time.perf_counter() > ctx.deadline:  # silence still comes through as heartbeats
                failure = shutting_down_error() if ctx.shutting_down else request_timed_out(ctx.deadline - ctx.started)
                break
            match event:
                case TextDelta(text=text):
                    ctx.mark_first_token()
                    out_chars += len(text)
                    yield event
                case ReasoningDelta(text=text):
                    ctx.mark_first_token()
                    out_chars += len(text or "")
                    yield event
                case ToolCallDelta():
                    ctx.mark_first_token()
                    tool_calls = True
                    out_chars += len(event.arguments) + len(event.name or "")
                    yield event
                case UsageReport(usage=u):
                    usage = u
                case Finish():
                    reason = "tool_calls" if tool_calls and event.reason == "stop" else event.reason
                    if reason == "tool_calls" and not tool_calls:
                        reason = "stop"
                    finish = Finish(reason, event.native_reason)
                    break
                case StreamFailure(error=error):
                    failure = error
                    break
                case _:
                    yield event  # Heartbeat
        else:
            failure = GatewayError(ErrorKind.PROVIDER_BAD_RESPONSE, "the upstream stream ended without a finish")
        if usage is None:
            usage = ctx.estimate_usage(out_chars)
        ctx.price(usage)
        cost = ctx.settle(usage, "error" if failure is not None or finish is None else finish.reason)
        yield UsageReport(usage, cost)
        if failure is not None:
            status = "error"
            ctx.fail(failure)
            yield StreamFailure(failure)
        else:
            assert finish is not None
            status = "ok"
            ctx.finish_reason, ctx.native_finish_reason = finish.reason, finish.native_reason
            yield finish
    except asyncio.CancelledError:
        status = "cancelled"
        raise
    except Exception:  # a bug of ours mid-stream: an error, not a client disconnect
        status = "error"
        ctx.fail(internal_error())
        raise
    finally:
        await_close = getattr(rest, "aclose", None)
        if await_close is not None and status != "ok":
            try:
                await await_close()
            except RuntimeError:
                pass
        if usage is None:
            usage = ctx.estimate_usage(out_chars)
        ctx.record(status, usage)
        if observe is not None:
            observe(ctx, status, usage)
