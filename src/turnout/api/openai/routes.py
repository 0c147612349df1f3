"""`POST /chat/completions` in the OpenAI/OpenRouter dialect."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate
from turnout.api.openai.encode import ChunkEncoder, completion_json
from turnout.api.openai.protocol import to_chat_request
from turnout.api.sse import EventStream, frames
from turnout.core.context import RequestContext
from turnout.runtime import Runtime


async def chat_completions(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = await authenticate(request.headers, rt.keys)  # before the body: a keyless request costs no read
    body = await rt.bodies.json(request, rt.settings.max_body_bytes)
    chat = rt.presets.apply(await rt.limiter.parsing(key, lambda: to_chat_request(body)),
                            body.get("preset") if isinstance(body, dict) else None)
    ctx = RequestContext(
        accountant=rt.accountant,
        key=key,
        dialect_in="openai",
        model_id=chat.model,
        streamed=chat.stream,
        app_title=request.headers.get("x-title") or request.headers.get("x-openrouter-title"),
        app_referer=request.headers.get("http-referer") or request.headers.get("referer"),
        app_categories=request.headers.get("x-openrouter-categories"),
        session_header=request.headers.get("x-session-id"),
    )
    ctx.cache = rt.cache_policy(request.headers, key, chat, "chat", body)
    if chat.stream:
        events = await rt.gateway.stream(chat, ctx)
        return EventStream(frames(ChunkEncoder(chat, ctx), events), ctx.response_headers())
    done = await rt.gateway.complete(chat, ctx)
    return Response(
        orjson.dumps(completion_json(chat, ctx, done.result, done.usage)),
        media_type="application/json",
        headers=ctx.response_headers(),
    )
