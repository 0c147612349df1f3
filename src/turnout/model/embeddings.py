"""The canonical embeddings request and result: what `POST /embeddings` builds and embedders return.

Dialect-free, like the chat types: inputs are texts (or token arrays, which only an upstream that
accepts them can serve), vectors are plain float lists, usage counts prompt tokens only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from turnout.model.chat import JSON
from turnout.model.result import Usage

EmbeddingInput = list[str] | list[list[int]]


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: EmbeddingInput
    dimensions: int | None = None
    user: str | None = None
    # OpenRouter routing extension, interpreted by core/, never sent upstream.
    provider: JSON | None = None
    # Fields turnout does not model: passed to OpenAI-dialect upstreams untouched.
    extra: JSON = field(default_factory=dict)

    def texts(self) -> list[str]:
        """The inputs as text; token-array inputs have none."""
        return [i for i in self.inputs if isinstance(i, str)]


@dataclass(slots=True)
class EmbeddingResult:
    vectors: list[list[float]]  # one per input, in input order
    usage: Usage | None = None  # None: the provider reported nothing and the gateway estimates
    upstream_model: str | None = None
