"""The storage contract: keys, accounts and their ledger, generation records and usage roll-ups.

Implementations are synchronous and are called from worker threads by core/ (batched accounting
writes, one-second refreshes) and by admin routes and the CLI; never on the inference request
path. Money is `Decimal` in and out; how it is kept (text, NUMERIC) is the implementation's affair.

`write_generations` is the one write the request path causes, and it must be idempotent by
generation id: crash recovery replays journalled records that may already be in the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

LIMIT_RESETS = ("daily", "weekly", "monthly")
CREDIT_KINDS = ("grant", "purchase", "adjustment")
DEFAULT_ACCOUNT = "default"


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
    account_id: str = DEFAULT_ACCOUNT
    limit_reset: str | None = None  # daily | weekly | monthly | None
    rate_limit_rpm: int | None = None  # None: the server default
    rate_limit_tpm: int | None = None
    deleted: bool = False


@dataclass(slots=True)
class AccountRecord:
    id: str
    credits: Decimal  # grants + purchases + adjustments
    usage: Decimal  # usage debits
    created_at: float
    updated_at: float

    @property
    def balance(self) -> Decimal:
        return self.credits - self.usage


@dataclass(slots=True)
class LedgerEntry:
    id: int
    account_id: str
    key_hash: str | None
    kind: str  # grant | purchase | adjustment | usage
    amount: Decimal  # credits positive, usage negative
    generation_id: str | None
    note: str | None
    created_at: float


@dataclass(slots=True)
class PeriodUsage:
    daily: Decimal
    weekly: Decimal
    monthly: Decimal


@dataclass(slots=True)
class ActivityRow:
    day: str
    key_hash: str
    model: str
    provider: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost: Decimal


@dataclass(slots=True)
class AppRow:
    app: str
    title: str | None
    referer: str | None
    requests: int
    tokens: int


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
    pipeline: list[dict[str, Any]] = field(default_factory=list)  # plugin steps (docs/plugins.md)


@dataclass(slots=True)
class PresetRecord:
    """One version of a preset. `config` holds request fields in `dialect`'s wire form."""

    slug: str
    version: int
    name: str
    dialect: str
    config: dict[str, Any]
    system_prompt: str | None
    archived: bool
    created_at: float
    updated_at: float


@dataclass(slots=True)
class ByokRecord:
    """An account's own key for a provider (BYOK). `secret` is the ciphertext (core/money/byok.py);
    `label` the masked suffix, the only part of the key ever shown again."""

    id: str
    account_id: str
    provider: str
    name: str | None
    label: str
    secret: str
    is_fallback: bool = False
    is_required: bool = False
    disabled: bool = False
    allowed_models: list[str] | None = None
    allowed_keys: list[str] | None = None  # API key hashes of the account that may use it
    sort_order: int = 0
    deleted: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True)
class ResponseRow:
    """One stored Responses API response (api/responses/chains.py encodes and decodes the blobs)."""

    id: str
    key_hash: str  # '' when made without a key
    model: str
    messages: bytes
    response: bytes | None
    size: int
    stored_at: float  # wall clock


@dataclass(frozen=True, slots=True)
class ResponseQuota:
    """How much stored response state is kept: per key, in all, and for how long."""

    ttl: float
    per_key: int
    per_key_bytes: int
    total: int
    total_bytes: int


class Store(Protocol):
    def migrate(self) -> list[int]:
        """Apply the migrations the database lacks (additive steps only: new tables, columns and
        indexes, so replicas of the previous release keep working); returns the versions applied.
        Raises `SchemaTooNew` when the database was migrated by a newer turnout."""
        ...

    def schema_version(self) -> int:
        """The newest migration applied to the database (0 for an empty one)."""
        ...

    # keys
    def create_key(
        self, hash: str, name: str, label: str, limit: Decimal | None, now: float, *,
        account_id: str = DEFAULT_ACCOUNT, limit_reset: str | None = None,
        rate_limit_rpm: int | None = None, rate_limit_tpm: int | None = None,
    ) -> KeyRecord:
        """Raises `KeyExists` when the name is taken."""
        ...

    def list_keys(self, include_deleted: bool = False) -> list[KeyRecord]: ...

    # models
    def models_first_seen(self, model_ids: Sequence[str], now: float) -> dict[str, float]:
        """When each model first appeared in this gateway (`now` for the ones new here); start-up only."""
        ...

    def get_key(self, hash: str) -> KeyRecord | None:
        """A key that is not deleted."""
        ...

    def keys_changed_since(self, since: float) -> list[KeyRecord]:
        """Keys whose `updated_at` is after `since`, deleted ones included (so caches drop them)."""
        ...

    def set_key_disabled(self, name: str, disabled: bool, now: float) -> bool: ...

    def key_usages(self) -> dict[str, Decimal]:
        """Every live key's committed usage (lets a process see what other processes spent)."""
        ...

    def update_key(self, hash: str, changes: dict[str, Any], now: float) -> KeyRecord | None:
        """Change name, disabled, limit, limit_reset, rate_limit_rpm or rate_limit_tpm."""
        ...

    def delete_key(self, hash: str, now: float) -> bool: ...

    # accounts and the ledger
    def get_account(self, id: str) -> AccountRecord | None: ...

    def list_accounts(self) -> list[AccountRecord]: ...

    def accounts_changed_since(self, since: float) -> list[AccountRecord]: ...

    def add_credits(self, account_id: str, kind: str, amount: Decimal, note: str | None, now: float) -> LedgerEntry:
        """Record a grant, purchase or adjustment (creating the account if needed)."""
        ...

    def ledger_entries(self, account_id: str, limit: int = 100) -> list[LedgerEntry]: ...

    def ledger_sums(self, account_id: str) -> tuple[Decimal, Decimal]:
        """(credits, usage) summed from the ledger's own rows: must equal the account's totals."""
        ...

    # usage
    def write_generations(self, records: list[GenerationRecord]) -> int:
        """Insert the records not already present and, in the same transaction, debit each one's cost
        from its key's account in the ledger, add it to the key's and the account's usage, and roll it
        up by day. Returns how many records were new."""
        ...

    def get_generation(self, id: str) -> GenerationRecord | None: ...

    def period_usage(self, now: float) -> dict[str, PeriodUsage]:
        """Each key's spend in the current UTC day, week (from Monday) and month."""
        ...

    def activity(self, since_day: str, key_hash: str | None = None) -> list[ActivityRow]: ...

    def top_apps(self, model: str | None, since_day: str, limit: int = 20, *, viewer: str | None = None,
                 admin: bool = False, category: str | None = None) -> list[AppRow]:
        """The apps that used a model most, by tokens. An admin sees every app in full; anyone else
        (`viewer`: their key hash, or None) sees their own apps in full and others' by title only,
        and only those that set one (never another key's referer)."""
        ...

    def save_preset(self, slug: str, name: str, dialect: str, config: dict[str, Any], system_prompt: str | None,
                    now: float) -> PresetRecord:
        """A new version of `slug` (version 1 for a new preset); it becomes the active one."""
        ...

    def preset_versions(self, slug: str) -> list[PresetRecord]:
        """Every version of one preset, newest first."""
        ...

    def presets_changed_since(self, since: float) -> list[PresetRecord]:
        """The newest version of every preset saved or archived after `since`."""
        ...

    def archive_preset(self, slug: str, now: float) -> bool: ...

    # App categories (X-OpenRouter-Categories)
    def add_app_categories(self, pairs: Sequence[tuple[str, str]], now: float) -> None:
        """Record (app, category) pairs; known ones are kept."""
        ...

    def models_by_category(self, category: str, since_day: str, limit: int = 100) -> list[tuple[str, int]]:
        """(model, tokens) used by apps of the category since the day, most used first."""
        ...

    # BYOK (per-account provider keys)
    def save_byok(self, record: ByokRecord) -> None:
        """Insert or replace the record with this id."""
        ...

    def get_byok(self, id: str) -> ByokRecord | None: ...

    def list_byok(self, account_id: str | None = None) -> list[ByokRecord]:
        """Keys not deleted, of one account or of all, by account, provider and sort order."""
        ...

    def byok_changed_since(self, since: float) -> list[ByokRecord]:
        """Every record (deleted ones too) changed after `since`: what a refresh applies."""
        ...

    def delete_byok(self, id: str, now: float) -> bool:
        """Mark deleted and wipe the ciphertext; False when there was no such live key."""
        ...

    def set_byok_settings(self, account_id: str, include_in_limit: bool, now: float) -> None: ...

    def byok_settings_changed_since(self, since: float) -> list[tuple[str, bool, float]]:
        """(account, include_byok_in_limit, updated_at) changed after `since`."""
        ...

    # Responses API state (previous_response_id)
    def save_responses(self, rows: list[ResponseRow], quota: ResponseQuota, now: float) -> None:
        """Keep the rows (replacing one with the same id), then drop what passed the quota: expired
        rows, each key's oldest past its own count or bytes, then the oldest of all past the totals."""
        ...

    def load_response(self, id: str) -> ResponseRow | None: ...

    def delete_response(self, id: str) -> bool: ...

    def close(self) -> None: ...


class SchemaTooNew(ValueError):
    """The database's schema is newer than this code's migrations: this turnout is too old for it."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database schema is at version {found} but this turnout knows versions up to {known}: it was "
            "migrated by a newer turnout. Upgrade turnout (every replica) before pointing it at this database; "
            "turnout never downgrades a schema")
        self.found, self.known = found, known


class KeyExists(ValueError):
    """A key with that name already exists."""


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def period_starts(ts: float) -> tuple[date, date, date]:
    """The first day of the current UTC day, week (Monday) and month."""
    day = utc_day(ts)
    return day, day - timedelta(days=day.weekday()), day.replace(day=1)


def next_reset(ts: float, reset: str | None) -> float | None:
    """When a `limit_reset` period that contains `ts` ends (midnight UTC), as a timestamp."""
    if reset is None:
        return None
    day, week, month = period_starts(ts)
    if reset == "daily":
        end = day + timedelta(days=1)
    elif reset == "weekly":
        end = week + timedelta(days=7)
    else:
        end = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()


class Counters(Protocol):
    """Windowed counters for rate limits (requests and tokens per key per minute).

    A counter is named, and counts per fixed window of `window` seconds; readers weigh the previous
    window by how much of it still overlaps the sliding window ending now. In memory by default
    (store/memory.py); in Redis (store/redis.py) so that replicas share them.
    """

    async def add(self, name: str, amount: int, window: int, now: float) -> tuple[int, int]:
        """Add `amount` (may be negative) to the current window; returns (current, previous) totals."""
        ...

    async def read(self, name: str, window: int, now: float) -> tuple[int, int]: ...

    def add_later(self, name: str, amount: int, window: int, now: float) -> None:
        """`add` without waiting for it (from synchronous code such as accounting)."""
        ...

    async def close(self) -> None: ...


class Holds(Protocol):
    """Budget holds shared by replicas (store/redis.py): check-and-hold against a limit in one atomic
    step, so that processes sharing a key's limit or an account's balance cannot overrun it together.

    A scope (a key's limit period, or an account) keeps what was spent and the holds of requests in
    flight, each under its generation id, so releasing is idempotent (crash recovery may release a
    hold its dead owner already released). `spent` starts from the caller's view of the store the
    first time a scope is seen.
    """

    async def hold(self, scope: str, gen_id: str, limit: Decimal, spent: Decimal, amount: Decimal,
                   ttl: int) -> tuple[bool, Decimal]:
        """(taken, what the scope had left before this hold)."""
        ...

    async def release(self, scope: str, gen_id: str, cost: Decimal) -> None:
        """Drop the hold and add the real cost to the scope's spend (once, whatever the retries)."""
        ...

    def release_later(self, scope: str, gen_id: str, cost: Decimal) -> None: ...

    async def close(self) -> None: ...
