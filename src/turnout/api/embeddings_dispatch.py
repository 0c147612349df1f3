"""Sending one embeddings request to an ordered list of endpoints: attempts and fallback.

The attempts run in core/upstream/dispatch.py's `Dispatcher.fallback`, the loop chat completions use (one
attempt cap, deadline, record and health). The outbound embeddings dialects come from
providers/registry.py (`http_embedders()`, next to `http_adapters()`); in-process embedders are the
dispatcher's in-process providers that also implement the `Embedder` Protocol. Everything is built
once per app, not per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from turnout.core.catalog.catalog import Endpoint
from turnout.core.upstream.dispatch import Attempt, Dispatcher
from turnout.core.upstream.transport import Transport
from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.providers.base import Embedder, EmbeddingAdapter
from turnout.providers.registry import http_embedders
from turnout.runtime import Runtime


class EmbeddingDispatcher:
    def __init__(self, adapters: Mapping[str, EmbeddingAdapter], in_process: Mapping[str, Embedder],
                 transport: Transport, dispatcher: Dispatcher) -> None:
        self._adapters = adapters
        self._in_process = in_process
        self._transport = transport
        self._dispatcher = dispatcher  # its attempt loop: one cap, deadline, record and health for every kind

    @classmethod
    def of(cls, state: Any, rt: Runtime) -> EmbeddingDispatcher:
        """The app's dispatcher, built on first use from the runtime's providers and transport."""
        dispatcher: EmbeddingDispatcher | None = getattr(state, "embedding_dispatcher", None)
        if dispatcher is None:
            providers = rt.dispatcher.in_process
            local = {d: p for d, p in providers.items() if isinstance(p, Embedder)}
            dispatcher = state.embedding_dispatcher = cls(http_embedders(), local, rt.transport, rt.dispatcher)
        return dispatcher

    async def embed(self, request: EmbeddingRequest, endpoints: list[Endpoint], attempts: list[Attempt],
                    deadline: float, reason: str = "") -> tuple[EmbeddingResult, Endpoint]:
        """Each endpoint in order until one answers, within the attempt cap and the deadline."""

        async def one(endpoint: Endpoint, adjusted: list[dict[str, Any]]) -> EmbeddingResult:
            result = await self._embed_one(request, endpoint)
            if len(result.vectors) != len(request.inputs):
                raise UpstreamError(
                    ErrorKind.PROVIDER_BAD_RESPONSE,
                    f"{endpoint.provider.name} returned {len(result.vectors)} vectors for {len(request.inputs)} inputs",
                    provider=endpoint.provider.name,
                    failure=FailureClass.TRANSIENT,
                )
            return result

        return await self._dispatcher.fallback(endpoints, attempts, deadline, reason, one)

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
        return await self._transport.exchange(up, target, adapter.parse_error, adapter.parse_embeddings_response)

