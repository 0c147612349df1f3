"""`POST /responses`, `GET` and `DELETE /responses/{id}` in OpenAI's Responses dialect.

Errors raised here render in OpenAI's `{"error": {message, type, param, code}}` envelope. Answers
are kept in the app's `ResponseStore` (unless `store: false`) so `previous_response_id` can
continue them; the conversation is stored canonically, so a continuation may go to any model.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.auth import authenticate
from turnout.api.envelope import in_envelope
from turnout.api.openai.encode import completions_cost
from turnout.api.pipeline import open_inference
from turnout.api.request import JSONAnswer
from turnout.api.responses.chains import ChainStore
from turnout.api.responses.encode import (
    EventEncoder,
    assistant_message,
    output_items,
    response_json,
    usage_json,
)
from turnout.api.responses.errors import error_response
from turnout.api.responses.protocol import ResponsesRequest, to_responses_request
from turnout.api.sse import EventStream, frames
from turnout.core.context import RequestContext
from turnout.core.money.keys import KeyState
from turnout.model.errors import GatewayError
from turnout.model.result import ChatResult
from turnout.runtime import Runtime

log = logging.getLogger("turnout")
DIALECT = "responses"


def response_store(request: Request) -> ChainStore:
    """The app's store, made on first use (one per app, so per worker process; the database behind
    it is shared by all)."""
    state = request.app.state
    store: ChainStore | None = getattr(state, "responses_store", None)
    if store is None:
        settings = state.runtime.settings
        store = state.responses_store = ChainStore(
            state.runtime.store, capacity=settings.responses_max, max_bytes=settings.responses_max_bytes,
            per_key=settings.responses_per_key, per_key_bytes=settings.responses_bytes_per_key)
    return store


@in_envelope(error_response)
async def responses(request: Request) -> Response:
    store = response_store(request)

    async def fetch(body: Any, key: KeyState) -> None:
        if isinstance(body, dict) and isinstance(body.get("previous_response_id"), str):
            await store.fetch(body["previous_response_id"], key.hash)  # made on another replica, or before a restart

    def parse(body: Any, key: KeyState) -> ResponsesRequest:
        history = None
        previous = body.get("previous_response_id") if isinstance(body, dict) else None
        if isinstance(previous, str):  # another type is the parser's 400
            history = list(store.get(previous, key.hash).messages)
        return to_responses_request(body, history)

    opened = await open_inference(request, parse, prepare=fetch)
    rt, key, rr = opened.rt, opened.key, opened.parsed
    chat = rt.presets.apply(rr.chat, opened.preset)
    ctx = opened.context(DIALECT, chat.model, streamed=chat.stream, provider=chat.provider)
    chat.generation_id = ctx.id
    ctx.cache = rt.cache_policy(request.headers, key, chat, "responses", opened.body)

    def keep(result: ChatResult, response: dict[str, object]) -> None:
        if rr.store:
            store.put(ctx.id, key.hash, chat.model, [*rr.input_messages, assistant_message(result)], response)

    if chat.stream:
        stream = await rt.gateway.stream(chat, ctx)
        return EventStream(frames(EventEncoder(rr, ctx, keep), stream), ctx.response_headers())
    done = await rt.gateway.complete(chat, ctx)
    response = to_response(rr, ctx, done.result, usage_json(done.usage, ctx.cost, completions_cost(ctx, done.usage), ctx.upstream_cost))
    keep(done.result, response)
    return JSONAnswer(orjson.dumps(response), ctx.response_headers())


def to_response(rr: ResponsesRequest, ctx: RequestContext, result: ChatResult, usage: dict[str, object]) -> dict[str, object]:
    return response_json(rr, ctx, "completed", output_items(rr, ctx, result), usage, finish=result.finish_reason)


async def response_by_id(request: Request) -> Response:
    """`GET /responses/{id}` (the stored response object) and `DELETE /responses/{id}`."""
    try:
        rt: Runtime = request.app.state.runtime
        key = await authenticate(request.headers, rt.keys, check_limit=False)
        response_id = request.path_params["response_id"]
        store = response_store(request)
        await store.fetch(response_id, key.hash)
        item = store.get(response_id, key.hash)
    except GatewayError as exc:
        return error_response(exc)
    if request.method == "DELETE":
        await store.remove(response_id)
        return Response(orjson.dumps({"id": response_id, "object": "response.deleted", "deleted": True}),
                        media_type="application/json")
    return Response(item.response or b"null", media_type="application/json")
