"""The seam between core/ and provider adapters: targets, upstream requests, and the Protocols.

An HTTP adapter is pure: it builds an `UpstreamRequest`, parses a body, decodes a stream one
`SSEEvent` at a time, and classifies errors. core/upstream/dispatch.py owns sockets, timeouts and retries.
An in-process provider (the local model) runs the model itself and yields canonical events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from turnout.core.catalog.network import DEFAULT as DEFAULT_NETWORK
from turnout.core.catalog.network import Network
from turnout.model.chat import ChatRequest
from turnout.model.embeddings import EmbeddingRequest, EmbeddingResult
from turnout.model.errors import UpstreamError
from turnout.model.result import ChatResult
from turnout.model.stream import StreamEvent
from turnout.providers.rules import DEFAULT_RULES, ParamRules
from turnout.providers.sse import SSEEvent


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete place to send a request: a provider, its upstream model name, credentials."""

    provider: str  # provider slug, e.g. "z-ai"
    provider_name: str  # display name, e.g. "Z.ai"
    dialect: str
    upstream_model: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # dialect-specific knobs from the catalog
    rules: ParamRules = DEFAULT_RULES  # what this model takes (providers/rules.py), resolved at start-up
    network: Network = DEFAULT_NETWORK  # the provider's proxy, TLS and connection cap (core/catalog/network.py)


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool
    # What the translator dropped or changed to fit the model (providers/rules.py), for the generation record.
    adjusted: tuple[dict[str, Any], ...] = ()


class StreamDecoder(Protocol):
    """State for one stream: made per request, fed every SSE event in order."""

    def feed(self, event: SSEEvent) -> Iterable[StreamEvent]: ...

    def close(self) -> Iterable[StreamEvent]:
        """The upstream body ended: flush what is pending (usage, finish) or report a cut stream."""
        ...


class Adapter(Protocol):
    dialect: ClassVar[str]

    def build_request(self, request: ChatRequest, target: Target) -> UpstreamRequest: ...

    def parse_response(self, body: bytes, target: Target) -> ChatResult: ...

    def open_stream(self, request: ChatRequest, target: Target) -> StreamDecoder: ...

    def parse_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError: ...


@runtime_checkable
class InProcessProvider(Protocol):
    """A provider that runs in this process (the built-in local model): no HTTP in between."""

    dialect: ClassVar[str]

    def available(self, upstream_model: str | None = None) -> tuple[bool, str | None]:
        """Whether it can serve `upstream_model` now; if not, a message saying how to make it available."""
        ...

    async def complete(self, request: ChatRequest, target: Target) -> ChatResult: ...

    def stream(self, request: ChatRequest, target: Target) -> AsyncIterator[StreamEvent]: ...


@runtime_checkable
class EmbeddingAdapter(Protocol):
    """Optional capability of an HTTP dialect: embeddings, as pure translation (core does the I/O)."""

    dialect: ClassVar[str]

    def build_embeddings_request(self, request: EmbeddingRequest, target: Target) -> UpstreamRequest: ...

    def parse_embeddings_response(self, body: bytes, target: Target) -> EmbeddingResult: ...

    def parse_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError: ...


@runtime_checkable
class Embedder(Protocol):
    """Optional capability of an in-process provider: it computes embeddings itself."""

    dialect: ClassVar[str]

    def available(self) -> tuple[bool, str | None]: ...

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult: ...
