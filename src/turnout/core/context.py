"""What turnout knows about one request while it runs, and the generation record it becomes."""

from __future__ import annotations

import base64
import collections
import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from turnout.core.catalog.catalog import Endpoint
from turnout.core.money import bounds, categories
from turnout.core.money.accounting import Accountant
from turnout.core.money.byok import byok_fee
from turnout.core.money.estimate import PromptEstimate, completion_cap
from turnout.core.money.keys import KeyState
from turnout.core.money.ledger import Reservation
from turnout.core.response_cache import CachePolicy
from turnout.core.routing.router import Preferences
from turnout.core.routing.sticky import Conversation
from turnout.core.upstream.dispatch import Attempt
from turnout.logs import asctime, direct, safe
from turnout.model.chat import JSON, ChatRequest
from turnout.model.errors import ErrorKind, GatewayError
from turnout.model.result import Usage
from turnout.plugins.insurance import insured
from turnout.store.base import GenerationRecord

log = logging.getLogger("turnout.requests")

if TYPE_CHECKING:
    from turnout.core.deadlines import Phase
    from turnout.plugins.pipeline import PluginRun

ZERO = Decimal(0)
NO_PROMPT = PromptEstimate(0, 0)
accounting_log = logging.getLogger("turnout.accounting")


def internal_error() -> GatewayError:
    """What a failure that is the gateway's own fault is recorded (and answered) as."""
    return GatewayError(ErrorKind.GATEWAY_INTERNAL, "Internal error")


_IDS: collections.deque[str] = collections.deque()
os.register_at_fork(after_in_child=_IDS.clear)  # a forked worker never hands out its parent's ids


def new_generation_id() -> str:
    """`gen-<unix time>-<20 random URL-safe characters>` (120 bits from the OS). The random parts
    are drawn 256 at a time: one `getrandom` call per 256 requests rather than one per request.
    `popleft` is atomic, so a part is never handed out twice, whichever thread asks."""
    try:
        tail = _IDS.popleft()
    except IndexError:
        raw = os.urandom(15 * 256)
        _IDS.extend(base64.urlsafe_b64encode(raw[i:i + 15]).decode() for i in range(0, len(raw), 15))
        tail = _IDS.popleft()
    return f"gen-{int(time.time())}-{tail}"


@dataclass(slots=True)
class RequestContext:
    accountant: Accountant
    key: KeyState | None
    dialect_in: str
    model_id: str
    streamed: bool
    prompt: PromptEstimate = NO_PROMPT  # sized once per request (core/money/estimate.py)
    app_title: str | None = None
    app_referer: str | None = None
    app_categories: str | None = None  # the X-OpenRouter-Categories header as sent; noted when recorded
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
    request: ChatRequest | None = None  # what was admitted: its completion cap bounds an estimate
    deadline: float = math.inf  # perf_counter time the whole request must end by (`request_timeout`)
    cache: CachePolicy | None = None  # response caching, when the request opted in
    cache_source: str | None = None  # a cache hit: the generation whose answer this replays
    rate_limited: bool = False  # counted against the key's rate limits (once)
    session_header: str | None = None  # `x-session-id`: the conversation, for sticky routing
    preferences: Preferences = field(default_factory=Preferences)  # the `provider` object (api/preferences.py)
    conversation: Conversation | None = None  # set when sticky routing looked at this request
    upstream_cost: Decimal | None = None  # served on the account's own key (BYOK): the list-price cost
    shutting_down: bool = False  # the shutdown grace passed: the deadline was moved to now (observe/shutdown.py)
    phase: Phase | None = None  # the upstream phase (core/deadlines.py), so a shutdown can end it early

    def __post_init__(self) -> None:
        # The headers as given, made what is kept: a bounded one-line title and the referer's origin.
        self.app_title = bounds.app_title(self.app_title)
        self.app_referer = bounds.origin(self.app_referer)
        observer = getattr(self.accountant, "observer", None)  # tests build contexts without one
        if observer is not None:  # metrics, traces, graceful shutdown (observe/)
            observer.begin(self)

    def response_headers(self) -> dict[str, str]:
        if self.cache_source is None:
            return {"x-generation-id": self.id}
        return {"x-generation-id": self.id, "x-openrouter-cache-source-id": self.cache_source,
                "x-openrouter-cache-status": "HIT"}
    # Plugins (src/turnout/plugins/): the request's run when any step applies, what the steps did,
    # their fees (searches, pages) and whether zero-completion insurance waived the token cost.
    plugins: PluginRun | None = None
    pipeline: list[JSON] | None = None
    fees: Decimal = ZERO
    fee_bound: Decimal = ZERO  # the most the plugins may charge: held with the tokens' worst case
    model_calls: int = 1  # how many model calls the request may make (the web search tool's loop)
    insured: bool = False
    settled: bool = False

    @property
    def prompt_estimate(self) -> int:
        """The prompt's likely size in tokens: what unreported usage is charged for."""
        return self.prompt.typical

    def mark_first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def estimate_usage(self, out_chars: int) -> Usage:
        """Usage the provider did not report: 4 characters a token, never more completion tokens
        than the request's own cap (`max_tokens`, else the endpoint's max completion)."""
        completion = (out_chars + 3) // 4
        if self.request is not None and self.endpoint is not None:
            completion = min(completion, completion_cap(self.request, self.endpoint, self.prompt.typical))
        return Usage(prompt_tokens=self.prompt.typical, completion_tokens=completion, estimated=True)

    def price(self, usage: Usage) -> Decimal:
        """The request's cost: its usage at its endpoint's prices, never more than the worst case its
        hold was computed for (a provider reporting more, or media above the estimate's bound, is the
        operator's loss, never a budget's overrun)."""
        if self.endpoint is None:
            return ZERO
        cost = self.endpoint.pricing.cost(usage)
        if self.endpoint.byok_id is not None:  # the provider bills the account; turnout charges its fee
            self.upstream_cost = cost
            cost = byok_fee(cost, self.accountant.byok_fee_percent)
        worst = self.reservation.worst if self.reservation is not None else None
        if worst is not None and cost > worst.amount:
            accounting_log.warning("%s: usage priced at %s is above its worst case %s; charged the worst case",
                        self.id, cost, worst.amount)
            cost = worst.amount
        self.cost = cost
        if self.streamed and self.reservation is not None:  # journalled before the usage chunk goes out
            self.accountant.note_usage(self.id, self.endpoint, usage, self.cost)
        return self.cost

    async def rate_limit(self) -> None:
        """Count this request against its key's rate limits, or raise a 429; before the model is
        resolved, so that refused requests (an unknown model) count too."""
        if not self.rate_limited:
            await self.accountant.limiter.admit(self.key)
            self.rate_limited = True

    def settle(self, usage: Usage, finish_reason: str | None) -> Decimal:
        """The request's final cost, once it is priced: zero-completion insurance waives the token
        cost of an answer that produced nothing (plugins/insurance.py); the plugins' own fees
        (searches, parsed pages) are charged either way."""
        self.settled = True
        if self.plugins is not None and self.plugins.searches:  # after pricing: the engine's price is the fee
            usage.web_search_requests += self.plugins.searches
        if insured(usage, finish_reason):
            self.insured = True
            self.note("insurance", "zero-completion", {"waived": str(self.cost), "finish_reason": finish_reason,
                                                       "completion_tokens": usage.completion_tokens})
            self.cost = ZERO
        if self.fees:
            self.cost += self.fees
            worst = self.reservation.worst if self.reservation is not None else None
            if worst is not None and self.cost > worst.amount:  # the hold included the fees' bound
                self.cost = worst.amount
        return self.cost

    def note(self, kind: str, name: str, data: JSON) -> None:
        """A pipeline step for the generation record (OpenRouter's `pipeline` entries)."""
        if self.pipeline is None:
            self.pipeline = []
        self.pipeline.append({"type": kind, "name": name, "data": data})

    async def admit(self, request: ChatRequest, endpoints: Sequence[Endpoint]) -> None:
        """Rate limits (429, unless counted already), then reserve the worst-case cost (402);
        `record` settles the reservation."""
        await self.rate_limit()
        self.request = request
        self.reservation = self.accountant.reserve(
            self.id, self.key, request, endpoints, self.prompt,
            {"model": bounds.clip(self.model_id, bounds.MAX_ID), "created_at": time.time(), "dialect_in": self.dialect_in,
             "streamed": self.streamed, "app_title": self.app_title, "app_referer": self.app_referer},
            self.fee_bound, self.model_calls,
        )
        if self.reservation.shared:  # replicas share this budget: hold it in the shared store too
            await self.accountant.hold_shared(self.reservation)

    @contextlib.contextmanager
    def recording_failures(self) -> Iterator[None]:
        """Around the part of a request before its answer exists: an error or a cancellation
        there is recorded at once (the error learns the generation id), then re-raised."""
        try:
            yield
        except BaseException as exc:
            self.record_failure(exc)
            raise

    def record_failure(self, exc: BaseException) -> None:
        """Record what ended the request before its answer existed (core/deadlines.py's `Phase`)."""
        if isinstance(exc, GatewayError):
            self.fail(exc)
            self.record("error", None)
            exc.generation_id = self.id
        elif isinstance(exc, Exception):  # a bug of ours (answered 500), not the client leaving
            self.fail(internal_error())
            self.record("error", None)
        else:  # cancelled: the client went away
            self.record("cancelled", None)

    def fail(self, error: GatewayError) -> None:
        self.error = error
        self.finish_reason = "error"

    def record(self, status: str, usage: Usage | None) -> None:
        """Write this request's generation record (once), whatever happened to it."""
        if self.recorded:
            return
        self.recorded = True
        usage = usage or Usage()
        if status != "ok" and not self.settled and self.endpoint is not None:
            self.price(usage)
            self.settle(usage, "error" if status == "error" else None)
        elif not self.settled and self.fees:
            self.cost += self.fees
        now = time.perf_counter()
        ep = self.endpoint
        err = self.error
        record = bounds.bounded(GenerationRecord(
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
            pipeline=self.pipeline or [],
        ))
        extra = ZERO
        if self.upstream_cost is not None:
            if record.attempts:  # what /generation reports as upstream_inference_cost
                record.attempts[-1]["upstream_cost"] = str(self.upstream_cost)
            book = self.accountant.byok
            if book is not None and self.key is not None and book.include_in_limit(self.key.account_id):
                extra = self.upstream_cost
        if extra:
            self.accountant.record(record, self.reservation, extra)
        else:  # the common case, in the two-argument form every accountant stand-in takes
            self.accountant.record(record, self.reservation)
        if self.app_categories:
            self.accountant.categories.note(record.app_referer or record.app_title, categories.parse(self.app_categories))
        observer = getattr(self.accountant, "observer", None)  # tests build contexts without one
        if observer is not None and observer.line is not None:
            observer.end(self, record)  # its metrics and log line, settled in batches (observe/observer.py)
            return
        trace_id = None
        if observer is not None:
            trace_id = observer.trace_id(self)
            observer.end(self, record)
        if log.isEnabledFor(logging.INFO):  # one level check per request when the line is off
            log_request(record, self.key, ep.provider.slug if ep else None, trace_id)


REQUEST_LINE = "%s key=%s model=%s provider=%s status=%s latency_ms=%.0f tokens=%d+%d cost=%s"


def log_request(r: GenerationRecord, key: KeyState | None, provider: str | None, trace_id: str | None = None) -> None:
    """One line per request: what an operator greps for. No prompt, answer or key (only its label).

    Made and handled directly rather than through `log.info`, which would also walk the stack
    to find the caller's file and line: a third of the line's cost, for a location that is
    always this function.
    """
    status = r.status if r.error_code is None else f"{r.status} {r.error_code}"
    args = (r.id, key.label if key else "-", safe(r.model), provider or "-", status, r.generation_time_ms,
            r.prompt_tokens, r.completion_tokens, format(r.cost, "f"))
    sink = direct(log)
    if sink is not None:  # the usual set-up (logs.configure, text): the line as the formatter would make it
        sink.line(f"{asctime()} INFO {log.name}: {REQUEST_LINE % args}\n")
        return
    rec = log.makeRecord(log.name, logging.INFO, __file__, 0, REQUEST_LINE, args, None, "log_request")
    rec.turnout = {"generation_id": r.id, "trace_id": trace_id, "key": args[1], "model": r.model,  # log_format: json
                   "provider": args[3], "status": r.status, "error_code": r.error_code,
                   "latency_ms": round(r.generation_time_ms, 2), "prompt_tokens": r.prompt_tokens,
                   "completion_tokens": r.completion_tokens, "cost": args[8]}
    log.handle(rec)
