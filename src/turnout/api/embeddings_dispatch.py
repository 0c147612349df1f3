"""Sending one embeddings request to an ordered list of endpoints: attempts and fallback.

This is core/dispatch.py's `complete` for embeddings. It lives beside the route until core/
grows an embeddings path, and it is the one place in api/ that names an outbound adapter (the
OpenAI embeddings dialect): `HTTP_EMBEDDERS` belongs in providers/registry.py, next to
`http_adapters()`. In-process embedders are the dispatcher's in-process providers that also
implement the `Embedder` Protocol. Everything is built once per app, not per request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from turnout.core.catalog import Endpoint
from turnout.core.dispatch import Attempt
from turnout.core.transport import Transport
from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import ErrorKind, FailureClass, GatewayError, UpstreamError
from turnout.providers.base import Embedder, EmbeddingAdapter
from turnout.providers.openai_embeddings import OpenAIEmbeddingsAdapter
from turnout.runtime import Runtime


def http_embedders() -> dict[str, EmbeddingAdapter]:
    adapters: list[EmbeddingAdapter] = [OpenAIEmbeddingsAdapter()]
    return {a.dialect: a for a in adapters}


class EmbeddingDispatcher:
    def __init__(self, adapters: Mapping[str, EmbeddingAdapter], in_process: Mapping[str, Embedder],
                 transport: Transport, health: Any = None) -> None:
        self._adapters = adapters
        self._in_process = in_process
        self._transport = transport
        self._health = health  # the chat dispatcher's HealthTracker: one health record per endpoint

    @classmethod
    def of(cls, state: Any, rt: Runtime) -> EmbeddingDispatcher:
        """The app's dispatcher, built on first use from the runtime's providers and transport."""
        dispatcher: EmbeddingDispatcher | None = getattr(state, "embedding_dispatcher", None)
        if dispatcher is None:
            providers = rt.dispatcher.in_process
            local = {d: p for d, p in providers.items() if isinstance(p, Embedder)}
            health = getattr(rt.dispatcher, "health", None)
            dispatcher = state.embedding_dispatcher = cls(http_embedders(), local, rt.transport, health)
        return dispatcher

    async def embed(
        self, request: EmbeddingRequest, endpoints: list[Endpoint], attempts: list[Attempt], reason: str | None = None
    ) -> tuple[EmbeddingResult, Endpoint]:
        last: UpstreamError | None = None
        for i, endpoint in enumerate(endpoints):
            why = reason if i == 0 else f"fallback {i} after: {reason}"
            started = time.perf_counter()
            try:
                result = await self._embed_one(request, endpoint)
                if len(result.vectors) != len(request.inputs):
                    raise UpstreamError(
                        ErrorKind.PROVIDER_BAD_RESPONSE,
                        f"{endpoint.provider.name} returned {len(result.vectors)} vectors for {len(request.inputs)} inputs",
                        provider=endpoint.provider.name,
                        failure=FailureClass.TRANSIENT,
                    )
            except UpstreamError as exc:
                self._transport.scrub(exc)
                self._note_failure(endpoint, exc)
                attempts.append(Attempt(endpoint.provider.slug, endpoint.upstream_model, "error", exc.upstream_status,
                                        exc.kind.value, _ms(started), endpoint.model_id, why, exc.detail))
                if exc.failure is FailureClass.CALLER_FAULT:
                    raise
                last = exc
                continue
            ms = _ms(started)
            if self._health is not None:
                self._health.success(endpoint.key, ms)
            attempts.append(Attempt(endpoint.provider.slug, endpoint.upstream_model, "ok", 200, None, ms, endpoint.model_id, why))
            return result, endpoint
        if last is None:
            raise GatewayError(ErrorKind.ROUTING_UNAVAILABLE, "no provider could take the request")
        if len(attempts) > 1:
            last.metadata["previous_errors"] = [a.public() for a in attempts]
        raise last

    def _note_failure(self, endpoint: Endpoint, exc: UpstreamError) -> None:
        if self._health is None:
            return
        if exc.failure is FailureClass.RATE_LIMIT:
            self._health.rate_limited(endpoint.key, exc.retry_after)
        elif exc.failure is not FailureClass.CALLER_FAULT:
            self._health.failure(endpoint.key)

    async def _embed_one(self, request: EmbeddingRequest, endpoint: Endpoint) -> EmbeddingResult:
        target = endpoint.target
        local = self._in_process.get(target.dialect)
        if local is not None:
            return await local.embed(request, target)
        adapter = self._adapters.get(target.dialect)
        if adapter is None:
            raise UpstreamError(
                ErrorKind.ROUTING_NO_ENDPOINT,
                f"provider {endpoint.provider.slug} (dialect {target.dialect}) cannot serve embeddings",
                provider=target.provider_name,
                failure=FailureClass.TRANSIENT,
            )
        up = adapter.build_embeddings_request(request, target)
        status, headers, body = await self._transport.fetch(up, target)
        if status >= 400:
            raise self._transport.error_answer(adapter.parse_error, status, headers, body, target, up)
        try:
            return adapter.parse_embeddings_response(body, target)
        except GatewayError as exc:
            self._transport.scrub(exc, up)
            raise


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
