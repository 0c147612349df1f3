"""Credits and limits on the request path: worst-case reservations, settlement, 402s.

Before a request goes upstream, `reserve()` holds the most it could cost — the prompt's bound and
the completion cap (core/money/estimate.py: everything sent upstream, tools and media included;
`max_tokens`, else the endpoint's max completion, else what the context leaves) at the priciest
endpoint of its route — against the key's limit and, when credits are
required, against its account's balance. The check and the hold are one synchronous step on the
event loop, so concurrent requests cannot both take the last of a budget. `settle()` releases
the hold and charges the real cost. Admitted requests' worst cases never add up past the budget,
and no request is charged more than its own worst case (`RequestContext.price` caps it there),
so a budget is never overrun.

The hold lives in memory and in the journal (core/money/journal.py), never in the database; the
ledger's rows in the store (credits and usage debits) are written off the path by the accountant.
Within one process the arithmetic is exact; several worker processes each hold their own view
(see docs/accounts.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from turnout.core.catalog.catalog import Endpoint
from turnout.core.catalog.pricing import money
from turnout.core.money.estimate import PromptEstimate, completion_cap
from turnout.core.money.journal import Journal
from turnout.core.money.keys import KeyCache, KeyState
from turnout.model.chat import ChatRequest, ImagePart
from turnout.model.errors import ErrorKind, GatewayError
from turnout.store.base import AccountRecord, GenerationRecord, Holds, Store, next_reset, period_starts

ZERO = Decimal(0)


@dataclass(slots=True)
class AccountState:
    id: str
    credits: Decimal
    usage: Decimal  # persisted at load plus this process's settled spend since
    reserved: Decimal = ZERO

    @property
    def balance(self) -> Decimal:
        return self.credits - self.usage - self.reserved


@dataclass(slots=True)
class SharedScope:
    """One budget this request is also held against in the shared store (see `Holds`)."""

    name: str
    limit: Decimal
    spent: Decimal  # this process's view, used only to start a scope Redis has not seen
    ttl: int  # seconds the scope outlives its period (0: no expiry)
    what: str


@dataclass(slots=True)
class Reservation:
    key: KeyState | None
    account: AccountState | None
    amount: Decimal
    gen_id: str = ""
    shared: list[SharedScope] = field(default_factory=list)
    worst: WorstCase | None = None


@dataclass(slots=True)
class WorstCase:
    amount: Decimal  # the most the request can cost
    prompt_cost: Decimal  # its likely prompt alone, at the priciest prompt price (what a crash charges)
    max_out: int  # the completion budget behind `amount`
    out_price: Decimal  # per completion token, at that endpoint
    fixed: Decimal  # what the request costs before any completion token
    prompt_tokens: int = 0  # the prompt's bound behind `fixed`


def worst_case(request: ChatRequest, endpoints: Sequence[Endpoint], prompt: PromptEstimate | int) -> WorstCase:
    """The most `request` can cost over `endpoints`: its prompt's bound and its completion cap
    (core/money/estimate.py) at the priciest of them."""
    if isinstance(prompt, int):
        prompt = PromptEstimate(prompt, prompt, sum(1 for m in request.messages if isinstance(m.content, list)
                                                    for p in m.content if isinstance(p, ImagePart)))
    worst = WorstCase(ZERO, ZERO, 0, ZERO, ZERO)
    for ep in endpoints:
        p = ep.pricing
        in_price = max(p.prompt, p.input_cache_write or ZERO)
        out_price = max(p.completion, p.internal_reasoning or ZERO)
        out = completion_cap(request, ep, prompt.typical)
        fixed = prompt.bound * in_price + p.request + prompt.images * p.image
        amount = fixed + out * out_price
        worst.prompt_cost = max(worst.prompt_cost, prompt.typical * in_price)
        if amount > worst.amount or not worst.max_out:
            worst.amount, worst.max_out, worst.out_price, worst.fixed = amount, out, out_price, fixed
            worst.prompt_tokens = prompt.bound
    return worst


class Ledger:
    def __init__(self, store: Store, keys: KeyCache, journal: Journal | None, *, require_credits: bool,
                 holds: Holds | None = None) -> None:
        self._store = store
        self.holds = holds
        self._keys = keys
        self._journal = journal
        self.require_credits = require_credits
        self._accounts: dict[str, AccountState] = {}
        self._seen_until = 0.0
        self._stored: dict[str, Decimal] = {}  # each account's usage in the store at the last look
        self._own: dict[str, Decimal] = {}  # this process's commits since the last look

    def load(self) -> None:
        records = self._store.list_accounts()
        self._stored = {r.id: r.usage for r in records}
        self.apply(records)

    def refresh(self) -> None:
        """Credits granted by another process (a worker thread calls this every second)."""
        self.apply(self._store.accounts_changed_since(self._seen_until - 2.0))

    def apply(self, records: list[AccountRecord]) -> None:
        for r in records:
            self._seen_until = max(self._seen_until, r.updated_at)
            known = self._accounts.get(r.id)
            if known is None:
                self._accounts[r.id] = AccountState(r.id, r.credits, r.usage)
                self._stored.setdefault(r.id, r.usage)
            else:
                known.credits = r.credits

    def committed(self, account_id: str, cost: Decimal) -> None:
        self._own[account_id] = self._own.get(account_id, ZERO) + cost

    def merge_usage(self, records: list[AccountRecord]) -> None:
        """Add what other processes spent from each account since the last look (see KeyCache.merge_usage)."""
        own, self._own = self._own, {}
        for r in records:
            before = self._stored.get(r.id)
            self._stored[r.id] = r.usage
            state = self._accounts.get(r.id)
            if before is not None and state is not None:
                state.usage += r.usage - before - own.get(r.id, ZERO)

    def account(self, account_id: str) -> AccountState:
        state = self._accounts.get(account_id)
        if state is None:  # not in the store yet as far as we know: it starts from nothing
            state = self._accounts[account_id] = AccountState(account_id, ZERO, ZERO)
            self._stored.setdefault(account_id, ZERO)
        return state

    def reserve(self, gen_id: str, key: KeyState | None, request: ChatRequest, endpoints: Sequence[Endpoint],
                prompt: PromptEstimate | int, journal_entry: dict[str, Any], fees: Decimal = ZERO,
                calls: int = 1) -> Reservation:
        """Hold the request's worst-case cost, or raise a 402; journal the reservation either way.
        `fees` is the most its plugins may charge besides tokens (web searches' prices); `calls`
        how many model calls it may make (the web search server tool's loop)."""
        worst = worst_case(request, endpoints, prompt)
        if calls > 1:
            worst = replace(worst, amount=worst.amount * calls, fixed=worst.fixed * calls)
        if fees:
            worst = replace(worst, amount=worst.amount + fees, fixed=worst.fixed + fees)
        account = self.account(key.account_id) if key is not None and self.require_credits else None
        limited = key is not None and key.limit is not None
        amount = worst.amount if (limited or account is not None) else ZERO
        if limited:
            assert key is not None
            _check(worst, key.remaining(time.time()) or ZERO, f"key limit (${money(key.limit or ZERO)}"
                   f"{', reset ' + key.limit_reset if key.limit_reset else ''})")
        if account is not None:
            _check(worst, account.balance, "account credits")
        if key is not None:
            key.reserved += amount
        if account is not None:
            account.reserved += amount
        shared = self._scopes(key if limited else None, account, amount) if self.holds is not None else []
        if self._journal is not None:
            self._journal.reserve(gen_id, {**journal_entry, "amount": str(amount), "prompt_cost": str(worst.prompt_cost),
                                           "prompt_tokens": prompt if isinstance(prompt, int) else prompt.typical, "scopes": [sc.name for sc in shared],
                                           "key_hash": key.hash if key is not None else None})
        return Reservation(key, account, amount, gen_id, shared, worst)

    def _scopes(self, key: KeyState | None, account: AccountState | None, amount: Decimal) -> list[SharedScope]:
        if not amount:
            return []
        now = time.time()
        out = []
        if key is not None and key.limit is not None:
            reset = key.limit_reset
            if reset is None:
                name, ttl = f"k:{key.hash}:all", 0
            else:
                day, week, month = period_starts(now)
                start = day if reset == "daily" else week if reset == "weekly" else month
                name, ttl = f"k:{key.hash}:{reset}:{start.isoformat()}", int((next_reset(now, reset) or now) - now) + 86400
            out.append(SharedScope(name, key.limit, key.limit_usage(now), ttl, "key limit"))
        if account is not None:
            out.append(SharedScope(f"a:{account.id}", account.credits, account.usage, 0, "account credits"))
        return out

    async def hold_shared(self, res: Reservation) -> None:
        """Hold the reservation in the shared store too (replicas), or raise a 402; `settle` releases it."""
        assert self.holds is not None
        for scope in res.shared:
            taken, left = await self.holds.hold(scope.name, res.gen_id, scope.limit, scope.spent, res.amount, scope.ttl)
            if not taken:
                worst = res.worst or WorstCase(res.amount, ZERO, 0, ZERO, ZERO)
                _check(worst, min(left, res.amount - Decimal("1e-9")), f"{scope.what}, shared by replicas")

    def settle(self, reservation: Reservation | None, rec: GenerationRecord, limit_extra: Decimal = ZERO) -> None:
        """Release the hold (if any) and charge the request's real cost to its key and account."""
        key = reservation.key if reservation is not None else None
        if reservation is not None and reservation.amount:
            if reservation.key is not None:
                reservation.key.reserved -= reservation.amount
            if reservation.account is not None:
                reservation.account.reserved -= reservation.amount
        if reservation is not None and reservation.shared and self.holds is not None:
            for scope in reservation.shared:
                self.holds.release_later(scope.name, reservation.gen_id, rec.cost)
        if key is None and rec.key_hash is not None:
            key = self._keys.get(rec.key_hash)
        if key is not None:
            key.add_usage(rec.cost + limit_extra, rec.created_at)
            self.account(key.account_id).usage += rec.cost


def _check(worst: WorstCase, remaining: Decimal, what: str) -> None:
    if remaining > ZERO and worst.amount <= remaining:
        return
    afford = 0
    if remaining > worst.fixed and worst.out_price > ZERO:
        afford = int(((remaining - worst.fixed) / worst.out_price).to_integral_value(ROUND_FLOOR))
    metadata = {"limited_by": what, "remaining": money(max(remaining, ZERO)), "required": money(worst.amount),
                "requested_tokens": worst.max_out, "affordable_tokens": afford, "prompt_tokens": worst.prompt_tokens}
    if remaining <= ZERO:
        message = f"Insufficient credits: the {what} is used up. Add credits or raise the limit."
    elif remaining <= worst.fixed:
        message = (f"This request requires more credits: its prompt alone (up to {worst.prompt_tokens} tokens, "
                   f"counting tool definitions, tool calls and media) may cost ${money(worst.fixed)}, and only "
                   f"${money(remaining)} is left of the {what}. Send a shorter prompt, or add credits or raise the limit.")
    else:
        message = (f"This request requires more credits, or fewer max_tokens. You requested up to "
                   f"{worst.max_out} tokens, but can only afford {afford}.")
    raise GatewayError(ErrorKind.POLICY_BUDGET_EXCEEDED, message, metadata=metadata)
