"""OpenTelemetry traces over OTLP/HTTP: one span per request, a child span per upstream attempt.

Off by default. On with `tracing: true` (and `tracing_endpoint`, else the standard
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`), or when `tracing` is unset
and one of those variables is set (`OTEL_SDK_DISABLED=true` keeps it off). The service name and
resource come from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (default "turnout").

Spans follow the OpenTelemetry GenAI semantic conventions (`gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.provider.name`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons`,
`error.type`). An incoming W3C `traceparent` becomes the request span's parent, and the request
span's own `traceparent` is sent upstream. Prompts and completions are never put in a span unless
`tracing_capture_content` says so.

The tracer provider is this runtime's own (never the global one), so two apps in one process
(tests) do not share exporters. Spans are batched and exported off the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from turnout.settings import Settings
from turnout.store.base import GenerationRecord

if TYPE_CHECKING:
    from turnout.core.context import RequestContext

log = logging.getLogger("turnout")

# The traceparent to send upstream for the request running in this task (set by `Tracer.begin`).
UPSTREAM_TRACEPARENT: ContextVar[str | None] = ContextVar("turnout_upstream_traceparent", default=None)
INCOMING_TRACEPARENT: ContextVar[str | None] = ContextVar("turnout_incoming_traceparent", default=None)
OPERATION = {"openai": "chat", "anthropic": "chat", "responses": "chat", "completions": "text_completion",
             "embeddings": "embeddings"}


def enabled(settings: Settings, env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if settings.tracing is not None:
        return settings.tracing
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def tracer_for(settings: Settings, env: Mapping[str, str]) -> Tracer | None:
    return Tracer(settings) if enabled(settings, env) else None


class Tracer:
    def __init__(self, settings: Settings) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = TracerProvider(resource=Resource.create({"service.name": "turnout"} | _service_from_env()))
        exporter = OTLPSpanExporter(endpoint=settings.tracing_endpoint) if settings.tracing_endpoint else OTLPSpanExporter()
        self.provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
        self.tracer = self.provider.get_tracer("turnout")
        self.propagator = TraceContextTextMapPropagator()
        self.capture_content = settings.tracing_capture_content
        self._spans: dict[int, tuple[Any, float]] = {}  # id(ctx) -> (span, perf_counter at its start)

    def begin(self, ctx: RequestContext) -> str:
        """Start the request's span; its trace id (hex) is returned for the logs."""
        from opentelemetry import trace

        incoming = INCOMING_TRACEPARENT.get()
        parent = self.propagator.extract({"traceparent": incoming}) if incoming else None
        operation = OPERATION.get(ctx.dialect_in, "chat")
        span = self.tracer.start_span(f"{operation} {ctx.model_id}"[:200], context=parent, kind=trace.SpanKind.SERVER,
                                      attributes={"gen_ai.operation.name": operation,
                                                  "gen_ai.request.model": ctx.model_id[:200],
                                                  "turnout.dialect_in": ctx.dialect_in,
                                                  "turnout.streamed": ctx.streamed,
                                                  "turnout.generation_id": ctx.id})
        self._spans[id(ctx)] = (span, time.perf_counter())
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier, trace.set_span_in_context(span))
        UPSTREAM_TRACEPARENT.set(carrier.get("traceparent"))
        return format(span.get_span_context().trace_id, "032x")

    def trace_id(self, ctx: RequestContext) -> str | None:
        held = self._spans.get(id(ctx))
        return None if held is None else format(held[0].get_span_context().trace_id, "032x")

    def end(self, ctx: RequestContext, r: GenerationRecord) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        held = self._spans.pop(id(ctx), None)
        if held is None:
            return
        span, began = held
        now_ns = time.time_ns()
        now_perf = time.perf_counter()
        parent = trace.set_span_in_context(span)
        for a in ctx.attempts:
            start = now_ns - int((now_perf - a.at) * 1e9) if a.at else now_ns - int(a.ms * 1e6)
            child = self.tracer.start_span(f"{OPERATION.get(ctx.dialect_in, 'chat')} {a.upstream_model}"[:200],
                                           context=parent, kind=trace.SpanKind.CLIENT, start_time=start,
                                           attributes={"gen_ai.provider.name": a.provider,
                                                       "gen_ai.request.model": a.upstream_model,
                                                       "turnout.attempt.outcome": a.outcome,
                                                       "turnout.attempt.reason": (a.reason or "")[:200]})
            if a.status is not None:
                child.set_attribute("http.response.status_code", a.status)
            if a.error:
                child.set_attribute("error.type", a.error)
                child.set_status(Status(StatusCode.ERROR))
            child.end(end_time=start + int(a.ms * 1e6))
        attrs: dict[str, Any] = {"gen_ai.usage.input_tokens": r.prompt_tokens,
                                 "gen_ai.usage.output_tokens": r.completion_tokens,
                                 "gen_ai.response.id": r.id, "turnout.status": r.status,
                                 "turnout.cost_usd": str(r.cost)}
        if r.provider:
            attrs["gen_ai.provider.name"] = ctx.endpoint.provider.slug if ctx.endpoint else r.provider
        if r.upstream_model:
            attrs["gen_ai.response.model"] = r.upstream_model
        if r.finish_reason:
            attrs["gen_ai.response.finish_reasons"] = [r.finish_reason]
        if self.capture_content and ctx.request is not None:
            attrs["gen_ai.input.messages"] = _messages(ctx)
        span.set_attributes(attrs)
        if r.status != "ok":
            span.set_attribute("error.type", ctx.error.kind.value if ctx.error is not None else r.status)
            span.set_status(Status(StatusCode.ERROR, (r.error_message or r.status)[:200]))
        del began
        span.end()

    def forget(self, ctx: RequestContext) -> None:
        held = self._spans.pop(id(ctx), None)
        if held is not None:
            held[0].end()

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()
        except Exception:  # an unreachable collector must not fail the shutdown
            log.warning("exporting the last spans failed", exc_info=True)


def _service_from_env() -> dict[str, str]:
    import os

    name = os.environ.get("OTEL_SERVICE_NAME")
    return {"service.name": name} if name else {}


def _messages(ctx: RequestContext) -> str:
    """The request's messages as JSON, only with `tracing_capture_content` on."""
    import orjson

    request = ctx.request
    assert request is not None
    try:
        return orjson.dumps([{"role": m.role, "content": str(m.content)[:4000]} for m in request.messages]).decode()
    except Exception:
        return "[]"
