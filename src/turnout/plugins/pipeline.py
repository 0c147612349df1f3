"""The plugin pipeline: which steps a request runs, and the hooks core/gateway.py calls.

`Pipeline` is built once at start-up from the settings (defaults, engines, fetcher). For each
request the gateway asks `start()` once, after routing and before admission; it returns None
(and the request pays nothing more) unless the request or the config switched a step on or the
request carries a file. A `PluginRun` then:
- pads the prompt estimate by what the steps may add (search results, PDF text) so the hold
  covers it;
- `before()` each route is dispatched: parses PDFs (plugins/pdf.py), searches (plugins/web.py);
- `after()` a whole answer: response healing (plugins/healing.py), citations;
- `observe()` a stream: collects its text to cite at the end.
Context compression (plugins/compression.py) runs from `compress()`, only when routing found no
endpoint for the prompt's length. Each step notes what it did in the generation record
(`RequestContext.note`) and adds its fees (`RequestContext.fees`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from turnout.core.catalog.catalog import Endpoint
from turnout.core.context import ZERO, RequestContext
from turnout.core.money.estimate import estimate_prompt
from turnout.core.upstream.http import HTTPClient
from turnout.model.chat import JSON, ChatRequest
from turnout.model.errors import ErrorKind, GatewayError, invalid
from turnout.model.result import ChatResult
from turnout.model.stream import Finish, StreamEvent, TextDelta
from turnout.plugins import compression, engines, healing, loop, pdf, web
from turnout.plugins.fetch import Fetcher
from turnout.plugins.spec import Plan, check_entries, compression_off, make_plan
from turnout.settings import ConfigError, Settings


class Pipeline:
    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None) -> None:
        try:
            self.defaults = check_entries(settings.plugins, "plugins")
            make_plan(self.defaults, None, has_files=False)  # options checked at start-up, not per request
        except GatewayError as exc:
            raise ConfigError(f"plugins: {exc.message}") from None
        self.engines, self.default_engine = engines.engines_from(settings.web_search, env)
        self.fetcher = (Fetcher(max_bytes=settings.url_fetch_max_bytes, timeout=settings.url_fetch_timeout,
                                allow=settings.url_fetch_allow) if settings.url_fetch else None)
        self.pdf_max_chars = settings.pdf_max_chars
        self.client = HTTPClient(settings.connect_timeout, settings.read_timeout)

    async def close(self) -> None:
        await self.client.close()

    def start(self, request: ChatRequest, ctx: RequestContext) -> PluginRun | None:
        """The request's run, or None when no step applies (the one check every request pays)."""
        if request.plugins is None and not self.defaults and not ctx.prompt.files:
            return None
        plan = make_plan(self.defaults, request.plugins, has_files=bool(ctx.prompt.files))
        if plan is None:
            return None
        run = PluginRun(self, plan)
        extra = 0  # bytes the steps may add to the prompt: the hold covers them
        if plan.web is not None:
            looping = plan.web.server_tool and not request.stream
            searches = plan.web.max_uses if looping else 1
            extra += searches * (plan.web.max_results * (engines.MAX_CONTENT_CHARS + 600) + 1_000)
            chosen = self.engines.get(plan.web.engine or self.default_engine or "")
            ctx.fee_bound += chosen.price * searches if chosen is not None else ZERO
            if looping:  # the server tool's loop: a model call after each search, each held
                ctx.model_calls += plan.web.max_uses
        if plan.file_parser:
            extra += ctx.prompt.files * self.pdf_max_chars * 4  # up to 4 UTF-8 bytes a character
        if extra:
            p = ctx.prompt
            ctx.prompt = replace(p, bound=p.bound + extra, typical=p.typical + extra // 4)
        return run

    def compress(self, request: ChatRequest, ctx: RequestContext, endpoints: list[Endpoint], exc: GatewayError,
                 *, last: bool = True) -> bool:
        """Middle-out, when routing excluded every endpoint for the prompt's length and compression
        is on (asked for, or by default for small contexts); True when the request now fits. By
        default a model with fallbacks after it (`models`) is not compressed for: they come first."""
        if exc.kind is not ErrorKind.ROUTING_NO_ENDPOINT or not endpoints:
            return False
        excluded = exc.metadata.get("excluded") or []
        if not any(x.get("excluded_by") == "context_length" for x in excluded if isinstance(x, dict)):
            return False
        if compression_off(self.defaults, request.plugins):
            return False
        largest = max(e.context_length for e in endpoints)
        asked = any(isinstance(p, dict) and p.get("id") == "context-compression"
                    for p in (*(request.plugins or ()), *self.defaults))
        if not asked and (largest > compression.DEFAULT_MAX_CONTEXT or not last):
            return False
        done = compression.middle_out(request, largest - (request.max_tokens or 0))
        if done is None:
            return False
        ctx.prompt = estimate_prompt(request)
        ctx.note("context_compression", "middle-out", done)
        return True


class PluginRun:
    """One request's steps; lives on `RequestContext.plugins`."""

    def __init__(self, pipeline: Pipeline, plan: Plan) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self.results: list[engines.SearchResult] | None = None  # an engine's results, once searched
        self.searches = 0
        self.annotations: list[JSON] | None = None
        self.engine: engines.Engine | None = None  # set when the model runs the searches (the tool loop)
        self._parsed = False
        self._text: list[str] = []

    async def before(self, request: ChatRequest, endpoints: list[Endpoint], ctx: RequestContext) -> None:
        if self.plan.file_parser and not self._parsed:
            await self._files(request, endpoints, ctx)
        if self.plan.web is not None and self.results is None:
            await self._search(request, endpoints, ctx)

    async def _files(self, request: ChatRequest, endpoints: list[Endpoint], ctx: RequestContext) -> None:
        engine = self.plan.pdf_engine or ("native" if pdf.reads_pdfs(endpoints) else "pdf-text")
        if engine == "native" or not pdf.has_pdfs(request):
            if engine == "native" and pdf.has_pdfs(request):
                ctx.note("plugin", "file-parser", {"engine": "native"})
            return
        self._parsed = True
        files = await pdf.parse_pdfs(request, self.pipeline.fetcher, self.pipeline.pdf_max_chars)
        ctx.note("plugin", "file-parser", {"engine": "pdf-text", "files": files,
                                           "pages": sum(int(str(f["pages"])) for f in files)})

    async def _search(self, request: ChatRequest, endpoints: list[Endpoint], ctx: RequestContext) -> None:
        options = self.plan.web
        assert options is not None
        engine_name = options.engine
        if engine_name in (None, "native") and web.searches_natively(endpoints):
            ctx.note("plugin", "web", {"engine": "native"})
            return
        if engine_name == "native":
            raise invalid("plugins", f"web search engine 'native' is not available for {request.model}: its "
                                     "provider does not search; leave `engine` out to use the configured engine")
        engine = self.pipeline.engines.get(engine_name or self.pipeline.default_engine or "")
        if engine is None:
            wanted = engine_name or "a search engine"
            raise invalid("plugins", f"web search needs {wanted}, and this gateway has none configured for "
                                     f"{request.model} (web_search.engines in the config)")
        if options.server_tool and loop.can_loop(request, endpoints):
            self.engine, self.results = engine, []
            loop.offer(request)
            ctx.note("server_tools", "web", {"engine": engine.name, "mode": "model-driven", "max_uses": options.max_uses})
            return
        query = web.query_of(request)
        if not query:
            raise invalid("messages", "web search needs a user message to search for")
        self.results = await engines.search(self.pipeline.client, engine, query, options.max_results,
                                            options.include_domains, options.exclude_domains)
        self.searches = 1
        ctx.fees += engine.price
        web.inject(request, self.results, options.search_prompt)
        web.without_web(request)
        ctx.prompt = estimate_prompt(request)
        ctx.note("server_tools" if options.server_tool else "plugin", "web",
                 {"engine": engine.name, "results": len(self.results), "price": str(engine.price)})

    async def run_loop(self, request: ChatRequest, result: ChatResult, ctx: RequestContext,
                       again: Callable[[ChatRequest], Awaitable[ChatResult]]) -> ChatResult:
        """The web search tool's loop, when the model was offered it (plugins/loop.py)."""
        if self.engine is None or self.results is None or self.plan.web is None:
            return result
        return await loop.run(self, request, result, ctx, again)

    def after(self, request: ChatRequest, result: ChatResult, ctx: RequestContext) -> None:
        """A whole answer: heal its JSON, cite its sources."""
        rf = request.response_format
        if self.plan.healing and not request.stream and rf is not None and rf.type in ("json_object", "json_schema") and result.content:
            result.content, done = healing.heal(result.content, rf, result.finish_reason)
            ctx.note("response_healing", "response-healing", done)
        if self.results is not None:
            self.annotations = web.citations(result.content or "", self.results)
            result.annotations = [*(result.annotations or ()), *self.annotations]

    def seen(self, event: StreamEvent) -> None:
        """A stream's first event, pulled before `observe` wraps the rest."""
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, Finish) and self.results is not None:
            self.annotations = web.citations("", self.results)

    async def observe(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """A stream's events as they come; its citations are ready when its `Finish` passes."""
        async for event in events:
            if isinstance(event, TextDelta):
                self._text.append(event.text)
            elif isinstance(event, Finish) and self.results is not None:
                self.annotations = web.citations("".join(self._text), self.results)
            yield event

    def usage_details(self) -> dict[str, Any]:
        return {"web_search_requests": self.searches}

