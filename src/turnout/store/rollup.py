"""What a batch of generation records adds up to: ledger debits, spend per key and per account,
and the daily usage and app roll-ups. Shared by every store so they all count the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from turnout.store.base import DEFAULT_ACCOUNT, GenerationRecord, utc_day


@dataclass(slots=True)
class UsageSum:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(slots=True)
class AppSum:
    title: str | None
    referer: str | None
    requests: int = 0
    tokens: int = 0


@dataclass(slots=True)
class Rollup:
    debits: list[tuple[Any, ...]] = field(default_factory=list)  # (account, key_hash, -cost, gen id, created_at)
    key_spend: dict[str, Decimal] = field(default_factory=dict)
    account_spend: dict[str, Decimal] = field(default_factory=dict)
    usage: dict[tuple[str, str, str, str], UsageSum] = field(default_factory=dict)
    apps: dict[tuple[str, str, str, str], AppSum] = field(default_factory=dict)  # (day, model, key_hash, app)


def rollup(records: list[GenerationRecord], owners: dict[str, str]) -> Rollup:
    """`owners` maps key hash -> account id; a record without a known key debits the default account."""
    out = Rollup()
    for r in records:
        account = owners.get(r.key_hash or "", DEFAULT_ACCOUNT)
        out.debits.append((account, r.key_hash, str(-r.cost), r.id, r.created_at))
        if r.cost:
            if r.key_hash in owners:
                assert r.key_hash is not None
                out.key_spend[r.key_hash] = out.key_spend.get(r.key_hash, Decimal(0)) + r.cost
            out.account_spend[account] = out.account_spend.get(account, Decimal(0)) + r.cost
        day = utc_day(r.created_at).isoformat()
        u = out.usage.setdefault((day, r.key_hash or "", r.model, r.provider or ""), UsageSum())
        u.requests += 1
        u.prompt_tokens += r.prompt_tokens
        u.completion_tokens += r.completion_tokens
        u.reasoning_tokens += r.reasoning_tokens
        u.cost += r.cost
        app = r.app_referer or r.app_title
        if app:
            a = out.apps.setdefault((day, r.model, r.key_hash or "", app), AppSum(r.app_title, r.app_referer))
            a.requests += 1
            a.tokens += r.prompt_tokens + r.completion_tokens
    return out
