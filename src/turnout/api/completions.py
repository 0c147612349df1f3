"""`POST /completions`: OpenAI's legacy prompt API, translated through chat for every model.

Wire reference: https://platform.openai.com/docs/api-reference/completions. The prompt becomes
one user message; the answer comes back as `text_completion` choices (streamed as
`text_completion` chunks, a usage chunk, then `data: [DONE]`). An array of prompts is answered
by one chat request per prompt, run concurrently, each with its own generation record; their
usage and cost are summed. Token-array prompts, `suffix`, `best_of` > 1 and `n` > 1 get a 400
naming the parameter. Errors use the OpenAI envelope of the app's global handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.openai.encode import completions_cost, error_chunk_body, usage_json
from turnout.api.openai.protocol import parse_plugins
from turnout.api.openai.wire import CompletionsBody
from turnout.api.pipeline import open_inference
from turnout.api.request import JSONAnswer
from turnout.api.sse import DONE, KEEPALIVE, EventStream, data_frame
from turnout.api.wire import convert, integral
from turnout.core.context import RequestContext
from turnout.core.gateway import Completion
from turnout.model.chat import ChatRequest, Message
from turnout.model.errors import invalid
from turnout.model.result import Usage
from turnout.model.stream import Finish, Heartbeat, StreamEvent, StreamFailure, TextDelta, UsageReport

DIALECT = "completions"
REJECTED = {"suffix": "'suffix' (fill-in-the-middle) is not supported", "best_of": "'best_of' must be 1",
            "n": "'n' must be 1; send one request per completion"}


def to_chat_requests(body: Any) -> tuple[list[ChatRequest], bool]:
    """One chat request per prompt, and whether to echo the prompt before the answer."""
    if isinstance(body, dict):  # what turnout does not serve, named before any type error
        for name, message in REJECTED.items():
            if body.get(name) not in (None, 1, ""):
                raise invalid(name, message)
        if body.get("logprobs") not in (None, 0, False):
            raise invalid("logprobs", "'logprobs' is not supported on legacy completions")
        body = integral(body, ("max_tokens", "top_k", "seed", "n", "best_of", "logprobs"))
    w = convert(body, CompletionsBody)
    if isinstance(w.prompt, str):
        prompts = [w.prompt]
    elif all(isinstance(p, str) for p in w.prompt):
        prompts = cast(list[str], w.prompt)
    else:
        raise invalid("prompt", "token-array prompts are not supported; send the prompt as text")
    stream = bool(w.stream)
    if stream and len(prompts) > 1:
        raise invalid("prompt", "a streamed completion takes one prompt")
    base: dict[str, Any] = {
        "max_tokens": w.max_tokens,
        "temperature": w.temperature,
        "top_p": w.top_p,
        "top_k": w.top_k,
        "frequency_penalty": w.frequency_penalty,
        "presence_penalty": w.presence_penalty,
        "repetition_penalty": w.repetition_penalty,
        "seed": w.seed,
        "stop": [w.stop] if isinstance(w.stop, str) else w.stop,
        "logit_bias": w.logit_bias,
        "user": w.user,
        "provider": w.provider,
        "plugins": parse_plugins(body.get("plugins")),
    }
    requests = [ChatRequest(model=w.model, messages=[Message(role="user", content=p)], stream=stream, **base)
                for p in prompts]
    return requests, bool(w.echo)


async def completions(request: Request) -> Response:
    opened = await open_inference(request, lambda body, _: to_chat_requests(body))
    rt = opened.rt
    chats, echo = opened.parsed
    contexts = [opened.context(DIALECT, c.model, streamed=c.stream, provider=c.provider) for c in chats]
    for chat, ctx in zip(chats, contexts, strict=True):
        chat.generation_id = ctx.id
    first = contexts[0]
    if chats[0].stream:
        stream = await rt.gateway.stream(chats[0], first)
        return EventStream(chunks(first, stream, chats[0].messages[0].text() if echo else ""), {"x-generation-id": first.id})
    done: list[Completion] = await asyncio.gather(*(rt.gateway.complete(c, x) for c, x in zip(chats, contexts, strict=True)))
    total, cost, completions = Usage(), Decimal(0), Decimal(0)
    for d, x in zip(done, contexts, strict=True):
        total.prompt_tokens += d.usage.prompt_tokens
        total.completion_tokens += d.usage.completion_tokens
        total.cached_tokens += d.usage.cached_tokens
        total.cache_write_tokens += d.usage.cache_write_tokens
        total.reasoning_tokens += d.usage.reasoning_tokens
        total.web_search_requests += d.usage.web_search_requests
        cost += x.cost
        completions += min(completions_cost(x, d.usage), x.cost)
    choices = [
        {"text": (c.messages[0].text() if echo else "") + (d.result.content or ""), "index": i, "logprobs": None,
         "finish_reason": d.result.finish_reason, "native_finish_reason": d.result.native_finish_reason}
        for i, (c, d) in enumerate(zip(chats, done, strict=True))
    ]
    payload = {**head(first), "choices": choices, "usage": usage_json(total, cost, completions)}
    return JSONAnswer(orjson.dumps(payload), {"x-generation-id": first.id})


def head(ctx: RequestContext) -> dict[str, Any]:
    return {
        "id": ctx.id,
        "object": "text_completion",
        "created": ctx.created,
        "model": ctx.model_id,
        "provider": ctx.endpoint.provider.name if ctx.endpoint else None,
        "system_fingerprint": None,
    }


async def chunks(ctx: RequestContext, events: AsyncIterator[StreamEvent], echo: str) -> AsyncIterator[bytes]:
    top = head(ctx)
    usage: dict[str, Any] | None = None

    def chunk(text: str, finish: str | None = None) -> bytes:
        return data_frame({**top, "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]})

    if echo:
        yield chunk(echo)
    async for event in events:
        if top["provider"] is None and ctx.endpoint is not None:  # a stream opened before its answer
            top["provider"] = ctx.endpoint.provider.name
        match event:
            case TextDelta(text=text):
                yield chunk(text)
            case UsageReport(usage=u, cost=cost):
                usage = usage_json(u, cost or Decimal(0), completions_cost(ctx, u))
            case Finish(reason=reason):
                yield chunk("", reason)
                if usage is not None:
                    yield data_frame({**top, "choices": [], "usage": usage})
                yield DONE
            case StreamFailure(error=error):
                if usage is not None:
                    yield data_frame({**top, "choices": [], "usage": usage})
                yield data_frame({**top, **error_chunk_body(error),
                                  "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "error"}]})
            case Heartbeat():
                yield KEEPALIVE
            case _:
                pass  # reasoning and tool calls have no place in a text completion
