"""What turnout knows about one request while it runs, and the generation record it becomes."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from turnout.core.accounting import Accountant
from turnout.core.catalog import Endpoint
from turnout.core.dispatch import Attempt
from turnout.core.keys import KeyState
from turnout.core.ledger import Reservation
from turnout.model.chat import ChatRequest
from turnout.model.errors import GatewayError
from turnout.model.result import Usage
from turnout.store.base import GenerationRecord

ZERO = Decimal(0)


def new_generation_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)}"


@dataclass(slots=True)
class RequestContext:
    accountant: Accountant
    key: KeyState | None
    dialect_in: str
    model_id: str
    streamed: bool
    prompt_estimate: int = 0
    app_title: str | None = None
    app_referer: str | None = None
    id: str = field(default_factory=new_generation_id)
    created: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)
    endpoint: Endpoint | None = None
    attempts: list[Attempt] = field(default_factory=list)
    first_token_at: float | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    error: GatewayError | None = None
    cost: Decimal = ZERO
    recorded: bool = False
    reservation: Reservation | None = None

    def mark_first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def estimate_usage(self, out_chars: int) -> Usage:
        return Usage(prompt_tokens=self.prompt_estimate, completion_tokens=(out_chars + 3) // 4, estimated=True)

    def price(self, usage: Usage) -> Decimal:
        if self.endpoint is None:
            return ZERO
        self.cost = self.endpoint.pricing.cost(usage)
        if self.streamed and self.reservation is not None:  # journalled before the usage chunk goes out
            self.accountant.note_usage(self.id, self.endpoint, usage, self.cost)
        return self.cost

    async def admit(self, request: ChatRequest, endpoints: Sequence[Endpoint]) -> None:
        """Rate limits (429), then reserve the worst-case cost (402); `record` settles the reservation."""
        await self.accountant.limiter.admit(self.key)
        self.reservation = self.accountant.reserve(
            self.id, self.key, request, endpoints, self.prompt_estimate,
            {"model": self.model_id, "created_at": time.time(), "dialect_in": self.dialect_in,
             "streamed": self.streamed, "app_title": self.app_title, "app_referer": self.app_referer},
        )
        if self.reservation.shared:  # replicas share this budget: hold it in the shared store too
            await self.accountant.hold_shared(self.reservation)

    @contextlib.contextmanager
    def recording_failures(self) -> Iterator[None]:
        """Around the part of a request before its answer exists: an error or a cancellation
        there is recorded at once (the error learns the generation id), then re-raised."""
        try:
            yield
        except GatewayError as exc:
            self.fail(exc)
            self.record("error", None)
            exc.generation_id = self.id
            raise
        except BaseException:
            self.record("cancelled", None)
            raise

    def fail(self, error: GatewayError) -> None:
        self.error = error
        self.finish_reason = "error"

    def record(self, status: str, usage: Usage | None) -> None:
        """Write this request's generation record (once), whatever happened to it."""
        if self.recorded:
            return
        self.recorded = True
        usage = usage or Usage()
        if status != "ok" and self.cost == ZERO and self.endpoint is not None:
            self.price(usage)
        now = time.perf_counter()
        ep = self.endpoint
        err = self.error
        self.accountant.record(
            GenerationRecord(
                id=self.id,
                created_at=time.time(),
                key_hash=self.key.hash if self.key else None,
                model=self.model_id,
                provider=ep.provider.name if ep else None,
                upstream_model=ep.upstream_model if ep else None,
                dialect_in=self.dialect_in,
                dialect_out=ep.provider.dialect if ep else None,
                streamed=self.streamed,
                status=status,
                finish_reason=self.finish_reason if status == "ok" else ("error" if status == "error" else None),
                native_finish_reason=self.native_finish_reason,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                usage_estimated=usage.estimated or usage.reasoning_estimated,
                cost=self.cost,
                latency_ms=None if self.first_token_at is None else (self.first_token_at - self.started) * 1000,
                generation_time_ms=(now - self.started) * 1000,
                error_code=err.status if err else (499 if status == "cancelled" else None),
                error_message=err.message if err else ("client disconnected" if status == "cancelled" else None),
                app_title=self.app_title,
                app_referer=self.app_referer,
                attempts=[a.to_wire() for a in self.attempts],
            ),
            self.reservation,
        )
