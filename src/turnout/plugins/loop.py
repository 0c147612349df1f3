"""The web search server tool, model-driven: the model decides when to search, turnout searches.

For a non-streamed request that asked for the tool (`openrouter:web_search`, Anthropic's
`web_search_*`, the Responses `web_search` tool) on endpoints that take tools, the model is
offered a `web_search(query)` function. Each time it calls it, turnout runs the search with the
configured engine, answers the call with the results (under the same instruction text as the
plugin), and asks the model again: at most `max_uses` searches (default 3, at most 10), after
which the tool is withdrawn so the model must answer. If the model calls the caller's own tools
in the same turn, the answer goes back to the caller with those calls only. Each search is
charged at the engine's price; the tokens of every model call are summed into the usage; the
request's hold covered every call it may make (`RequestContext.model_calls`). A streamed request
gets the plugin form instead: one search before the model answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson

from turnout.core.catalog.catalog import Endpoint
from turnout.core.context import RequestContext
from turnout.model.chat import ChatRequest, Message, Tool
from turnout.model.result import ChatResult, Usage
from turnout.plugins import engines, web

if TYPE_CHECKING:
    from turnout.plugins.pipeline import PluginRun

TOOL_NAME = "web_search"
TOOL = Tool(
    TOOL_NAME,
    "Search the web. Use it for anything recent or that you are unsure of; cite what you use.",
    {"type": "object", "properties": {"query": {"type": "string", "description": "what to search for"}},
     "required": ["query"]},
)


def can_loop(request: ChatRequest, endpoints: list[Endpoint]) -> bool:
    return (not request.stream and bool(endpoints) and all("tools" in e.supported_parameters for e in endpoints)
            and not any(t.name == TOOL_NAME for t in request.tools or ()) and request.tool_choice != "none")


def offer(request: ChatRequest) -> None:
    request.tools = [*(request.tools or ()), TOOL]


def _withdraw(request: ChatRequest) -> None:
    request.tools = [t for t in request.tools or () if t.name != TOOL_NAME] or None
    if request.tools is None:
        request.tool_choice = None


def _query(arguments: str) -> str:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return ""
    query = value.get("query") if isinstance(value, dict) else None
    return " ".join(query.split())[: web.MAX_QUERY_CHARS] if isinstance(query, str) else ""


def _add(total: Usage, more: Usage) -> None:
    total.prompt_tokens += more.prompt_tokens
    total.completion_tokens += more.completion_tokens
    total.cached_tokens += more.cached_tokens
    total.cache_write_tokens += more.cache_write_tokens
    total.reasoning_tokens += more.reasoning_tokens
    total.images += more.images
    total.web_search_requests += more.web_search_requests
    total.estimated = total.estimated or more.estimated


def _usage_of(result: ChatResult, ctx: RequestContext) -> Usage:
    if result.usage is not None:
        return result.usage
    out = len(result.content or "") + sum(len(c.arguments) for c in result.tool_calls or ())
    return ctx.estimate_usage(out)


async def run(run: PluginRun, request: ChatRequest, result: ChatResult, ctx: RequestContext,
              again: Callable[[ChatRequest], Awaitable[ChatResult]]) -> ChatResult:
    options, engine, found = run.plan.web, run.engine, run.results
    assert options is not None and engine is not None and found is not None
    total = Usage()
    _add(total, _usage_of(result, ctx))
    asked = rounds = 0
    while True:
        calls = [c for c in result.tool_calls or () if c.name == TOOL_NAME]
        if not calls or rounds >= options.max_uses:  # at most max_uses + 1 model calls, whatever it asks
            break
        rounds += 1
        others = [c for c in result.tool_calls or () if c.name != TOOL_NAME]
        if others:  # the caller's own tools are due: the answer is theirs now
            result.tool_calls = others
            break
        request.messages.append(Message("assistant", result.content, tool_calls=calls))
        for call in calls:
            query = _query(call.arguments)
            if asked >= options.max_uses or not query:
                text = "No search was run: " + ("the search budget is spent." if query else "the query was empty.")
            else:
                asked += 1
                hits = await engines.search(run.pipeline.client, engine, query, options.max_results,
                                            options.include_domains, options.exclude_domains)
                run.searches += 1
                ctx.fees += engine.price
                found.extend(h for h in hits if all(h.url != f.url for f in found))
                text = web.results_text(hits, options.search_prompt)
            request.messages.append(Message("tool", text, tool_call_id=call.id))
        if asked >= options.max_uses or rounds >= options.max_uses:
            _withdraw(request)  # the model must answer now
        result = await again(request)
        _add(total, _usage_of(result, ctx))
    if result.tool_calls is not None:
        result.tool_calls = [c for c in result.tool_calls if c.name != TOOL_NAME] or None
        if result.tool_calls is None and result.finish_reason == "tool_calls":
            result.finish_reason = "stop"
    result.usage = total
    ctx.note("server_tools", "web", {"engine": engine.name, "searches": asked, "results": len(found),
                                     "price": str(engine.price * asked)})
    return result
