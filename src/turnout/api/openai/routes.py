"""`POST /chat/completions` in the OpenAI/OpenRouter dialect."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.openai.encode import ChunkEncoder, completion_json
from turnout.api.openai.protocol import to_chat_request
from turnout.api.pipeline import open_inference
from turnout.api.request import JSONAnswer
from turnout.api.sse import EventStream, frames


async def chat_completions(request: Request) -> Response:
    opened = await open_inference(request, lambda body, _: to_chat_request(body))
    rt = opened.rt
    chat = rt.presets.apply(opened.parsed, opened.preset)
    ctx = opened.context("openai", chat.model, streamed=chat.stream, provider=chat.provider)
    ctx.cache = rt.cache_policy(request.headers, opened.key, chat, "chat", opened.body)
    if chat.stream:
        events = await rt.gateway.stream(chat, ctx)
        return EventStream(frames(ChunkEncoder(chat, ctx), events), ctx.response_headers())
    done = await rt.gateway.complete(chat, ctx)
    return JSONAnswer(orjson.dumps(completion_json(chat, ctx, done.result, done.usage)), ctx.response_headers())
