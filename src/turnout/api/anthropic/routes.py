"""`POST /messages` (and `/messages/count_tokens`) in Anthropic's dialect, for every catalog model.

Errors raised here (bad body, bad key, routing, upstream failures before the first byte) are
rendered in Anthropic's envelope by this route itself, not by the app's OpenAI-dialect handler.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.anthropic.encode import EventEncoder, message_json
from turnout.api.anthropic.errors import error_response
from turnout.api.anthropic.protocol import to_chat_request
from turnout.api.auth import authenticate
from turnout.api.envelope import in_envelope
from turnout.api.openai.encode import hides_reasoning
from turnout.api.pipeline import open_inference
from turnout.api.request import JSONAnswer
from turnout.api.sse import EventStream, frames
from turnout.core.routing.router import estimate_prompt_tokens
from turnout.model.errors import GatewayError
from turnout.runtime import Runtime

log = logging.getLogger("turnout")
DIALECT = "anthropic"


@in_envelope(error_response)
async def messages(request: Request) -> Response:
    opened = await open_inference(request, lambda body, _: to_chat_request(body))
    rt = opened.rt
    chat = rt.presets.apply(opened.parsed, opened.preset)
    ctx = opened.context(DIALECT, chat.model, streamed=chat.stream, provider=chat.provider)
    chat.generation_id = ctx.id
    ctx.cache = rt.cache_policy(request.headers, opened.key, chat, "messages", opened.body)
    if chat.stream:
        stream = await rt.gateway.stream(chat, ctx)
        headers = {**ctx.response_headers(), "request-id": ctx.id}
        return EventStream(frames(EventEncoder(ctx, hide_reasoning=hides_reasoning(chat)), stream), headers)
    done = await rt.gateway.complete(chat, ctx)
    headers = {**ctx.response_headers(), "request-id": ctx.id}
    return JSONAnswer(orjson.dumps(message_json(ctx, done.result, done.usage, hide_reasoning=hides_reasoning(chat))), headers)


async def count_tokens(request: Request) -> Response:
    """An estimate (4 bytes a token over everything sent, tools and media included, as routing
    uses; see core/money/estimate.py): no upstream call, nothing billed.

    Anthropic's endpoint counts with the model's own tokenizer; other providers have no such
    endpoint, so every model gets the same estimate here.
    """
    try:
        rt: Runtime = request.app.state.runtime
        await authenticate(request.headers, rt.keys, check_limit=False)
        # The same body as /messages (a whole conversation, images included), so the same limit.
        body = await rt.bodies.json(request, rt.settings.max_body_bytes)
        if isinstance(body, dict) and "max_tokens" not in body:
            body = {**body, "max_tokens": 1 << 20}  # count_tokens takes no max_tokens
        chat = to_chat_request(body)
        rt.gateway.router.lookup(chat.model)
    except GatewayError as exc:
        return error_response(exc)
    return Response(orjson.dumps({"input_tokens": estimate_prompt_tokens(chat)}), media_type="application/json")
