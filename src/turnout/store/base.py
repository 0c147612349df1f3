"""The storage contract: keys and generation records. Implementations are synchronous and are
called from a worker thread by core/, never on the event loop's request path."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol


@dataclass(slots=True)
class KeyRecord:
    hash: str
    name: str
    label: str
    limit: Decimal | None
    usage: Decimal
    disabled: bool
    created_at: float
    updated_at: float


@dataclass(slots=True)
class GenerationRecord:
    id: str
    created_at: float
    key_hash: str | None
    model: str
    provider: str | None
    upstream_model: str | None
    dialect_in: str
    dialect_out: str | None
    streamed: bool
    status: str  # ok | error | cancelled
    finish_reason: str | None
    native_finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    usage_estimated: bool
    cost: Decimal
    latency_ms: float | None  # time to first token (or to the whole answer when not streamed)
    generation_time_ms: float
    error_code: int | None
    error_message: str | None
    app_title: str | None
    app_referer: str | None
    attempts: list[dict[str, Any]]


class Store(Protocol):
    def migrate(self) -> None: ...

    def create_key(self, hash: str, name: str, label: str, limit: Decimal | None, now: float) -> None: ...

    def list_keys(self) -> list[KeyRecord]: ...

    def get_key(self, hash: str) -> KeyRecord | None: ...

    def keys_changed_since(self, since: float) -> list[KeyRecord]: ...

    def set_key_disabled(self, name: str, disabled: bool, now: float) -> bool: ...

    def write_generations(self, records: list[GenerationRecord]) -> None:
        """Insert the records and add their cost to their keys' usage, in one transaction."""
        ...

    def get_generation(self, id: str) -> GenerationRecord | None: ...

    def close(self) -> None: ...
