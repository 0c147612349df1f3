"""API keys and admin keys: minting, keyed hashing, and the in-memory state the request path reads.

The clear key is shown once and never stored: the store keeps HMAC-SHA256(secret, key), where the
secret lives in the data directory. Lookups hash the presented key and find it by its hash; the
hash is then compared again with `hmac.compare_digest`, and admin keys are only ever compared that
way. Keys are loaded at start-up and refreshed from the store by a background task
(`KEY_REFRESH_SECONDS`), so a key changed or disabled by `turnout keys ...` or another process takes
effect within that time. A key the cache does not know yet (just made by `turnout keys create` or
another replica) is looked up in the store by its hash on its first use (`KeyCache.resolve`), in a
worker thread, so it works at once. Those lookups are bounded: hashes the store does not have are
remembered (a negative cache), concurrent misses for one hash share one lookup, and at most
`MISS_LOOKUPS_PER_SECOND` lookups run each second, so a flood of bad keys cannot reach the database;
past the cap an unknown key is refused until the refresher finds it.

`KeyState` also carries what the ledger needs: usage by period, and the amount reserved by
requests in flight (see core/money/ledger.py, which owns the arithmetic).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from turnout.store.base import DEFAULT_ACCOUNT, KeyRecord, PeriodUsage, Store, next_reset

KEY_PREFIX = "sk-tn-v1-"
ADMIN_PREFIX = "sk-tn-admin-v1-"
ADMIN_FILE = "admin-keys"  # one keyed hash a line; the clear admin key is never stored
ZERO = Decimal(0)
MISS_LOOKUPS_PER_SECOND = 20  # store lookups for keys the cache does not know, per process
ABSENT_MAX = 100_000  # remembered unknown hashes (64 hex characters each); cleared when full

log = logging.getLogger("turnout")


def load_secret(data_dir: Path) -> bytes:
    """The server's hashing secret, made on first use (0600); every process on this data dir shares it."""
    path = data_dir / "key-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # first writer wins; a racing process reads the winner's secret
        except FileExistsError:
            pass
        tmp.unlink()
    return path.read_bytes()


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def mint_key(prefix: str = KEY_PREFIX) -> tuple[str, str]:
    """A new clear key and its display label (prefix and last characters only)."""
    key = prefix + secrets.token_hex(32)
    return key, f"{key[:len(prefix) + 3]}...{key[-3:]}"


@dataclass(slots=True)
class KeyState:
    hash: str
    name: str
    label: str
    limit: Decimal | None
    usage: Decimal  # lifetime: persisted usage at load plus this process's settled spend since
    disabled: bool
    account_id: str = DEFAULT_ACCOUNT
    limit_reset: str | None = None
    rate_limit_rpm: int | None = None
    rate_limit_tpm: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    usage_daily: Decimal = ZERO
    usage_weekly: Decimal = ZERO
    usage_monthly: Decimal = ZERO
    reserved: Decimal = ZERO  # held by requests in flight
    day_ends: float = 0.0  # when usage_daily (and maybe weekly/monthly) must roll over
    _week_ends: float = field(default=0.0, repr=False)
    _month_ends: float = field(default=0.0, repr=False)

    def roll(self, now: float) -> None:
        """Start new periods at midnight UTC (cheap when nothing rolls: one comparison)."""
        if now < self.day_ends:
            return
        self.usage_daily = ZERO
        if now >= self._week_ends:
            self.usage_weekly = ZERO
            self._week_ends = next_reset(now, "weekly") or 0.0
        if now >= self._month_ends:
            self.usage_monthly = ZERO
            self._month_ends = next_reset(now, "monthly") or 0.0
        self.day_ends = next_reset(now, "daily") or 0.0

    def set_periods(self, p: PeriodUsage, now: float) -> None:
        self.usage_daily, self.usage_weekly, self.usage_monthly = p.daily, p.weekly, p.monthly
        self.day_ends = next_reset(now, "daily") or 0.0
        self._week_ends = next_reset(now, "weekly") or 0.0
        self._month_ends = next_reset(now, "monthly") or 0.0

    def add_usage(self, cost: Decimal, now: float) -> None:
        self.roll(now)
        self.usage += cost
        self.usage_daily += cost
        self.usage_weekly += cost
        self.usage_monthly += cost

    def limit_usage(self, now: float) -> Decimal:
        """What counts against `limit`: usage in the current reset period (or ever, without one)."""
        self.roll(now)
        reset = self.limit_reset
        if reset is None:
            return self.usage
        return self.usage_daily if reset == "daily" else self.usage_weekly if reset == "weekly" else self.usage_monthly

    def remaining(self, now: float | None = None) -> Decimal | None:
        """What the key may still spend, net of what requests in flight hold."""
        if self.limit is None:
            return None
        return self.limit - self.limit_usage(time.time() if now is None else now) - self.reserved

    def limit_resets_at(self, now: float) -> float | None:
        return next_reset(now, self.limit_reset)


class KeyCache:
    def __init__(self, store: Store, secret: bytes) -> None:
        self._store = store
        self._secret = secret
        self._by_hash: dict[str, KeyState] = {}
        self._seen_until = 0.0
        self._stored: dict[str, Decimal] = {}  # each key's usage in the store at the last look
        self._own: dict[str, Decimal] = {}  # this process's commits since the last look
        self._absent: set[str] = set()  # hashes the store did not have when last asked
        self._pending: dict[str, asyncio.Future[KeyState | None]] = {}  # lookups in flight, by hash
        self._miss_second = 0
        self._miss_count = 0
        self.store_lookups = 0  # lookups by hash this process made (tests and diagnostics read it)

    def load(self) -> None:
        """All keys with their period usage, at start-up (a thread may call it)."""
        now = time.time()
        periods = self._store.period_usage(now)
        records = self._store.list_keys()
        self._stored = {r.hash: r.usage for r in records}
        self.apply(records)
        empty = PeriodUsage(ZERO, ZERO, ZERO)
        for state in self._by_hash.values():
            state.set_periods(periods.get(state.hash, empty), now)

    def refresh(self) -> None:
        """Keys created or changed since the last look (called from a worker thread)."""
        self.apply(self._store.keys_changed_since(self._seen_until - 2.0))

    def apply(self, records: list[KeyRecord], *, advance: bool = True) -> None:
        """Take keys from the store into the cache; `advance=False` for a single key found by hash,
        which must not move the refresher's watermark past keys it has not seen yet."""
        for r in records:
            if advance:
                self._seen_until = max(self._seen_until, r.updated_at)
            self._absent.discard(r.hash)
            if r.deleted:
                self._by_hash.pop(r.hash, None)
                continue
            known = self._by_hash.get(r.hash)
            if known is None:
                state = KeyState(r.hash, r.name, r.label, r.limit, r.usage, r.disabled, r.account_id, r.limit_reset,
                                 r.rate_limit_rpm, r.rate_limit_tpm, r.created_at, r.updated_at)
                state.set_periods(PeriodUsage(ZERO, ZERO, ZERO), time.time())
                self._by_hash[r.hash] = state
                self._stored.setdefault(r.hash, r.usage)  # the figure the state starts from
            else:
                known.disabled, known.limit, known.name = r.disabled, r.limit, r.name
                known.limit_reset, known.rate_limit_rpm, known.rate_limit_tpm = (
                    r.limit_reset, r.rate_limit_rpm, r.rate_limit_tpm)
                known.updated_at = r.updated_at

    def committed(self, key_hash: str, cost: Decimal) -> None:
        """This process's spend just committed to the store (the accountant tells, on the loop)."""
        self._own[key_hash] = self._own.get(key_hash, ZERO) + cost

    def merge_usage(self, stored: dict[str, Decimal]) -> None:
        """Add what other processes spent since the last look: the store's growth less our own
        commits (on the loop). A commit that lands between the read and the accountant's report
        is counted twice for one look and taken back at the next."""
        own, self._own = self._own, {}
        now = time.time()
        for key_hash, usage in stored.items():
            before = self._stored.get(key_hash)
            self._stored[key_hash] = usage
            state = self._by_hash.get(key_hash)
            if before is None or state is None:
                continue
            others = usage - before - own.get(key_hash, ZERO)
            if others:
                state.add_usage(others, now)

    def lookup(self, clear: str) -> KeyState | None:
        """The cached key, without asking the store (see `resolve`)."""
        digest = hash_key(self._secret, clear)
        state = self._by_hash.get(digest)
        if state is None or not hmac.compare_digest(state.hash, digest):
            return None
        return state

    async def resolve(self, clear: str) -> KeyState | None:
        """The key, from the cache or, on a miss, from the store (bounded, see the module doc)."""
        digest = hash_key(self._secret, clear)
        state = self._by_hash.get(digest)
        if state is not None:
            return state if hmac.compare_digest(state.hash, digest) else None
        if digest in self._absent:
            return None
        pending = self._pending.get(digest)
        if pending is None:
            if not self._may_look_up():
                return None
            pending = asyncio.ensure_future(self._fetch(digest))
            self._pending[digest] = pending
            pending.add_done_callback(lambda _: self._pending.pop(digest, None))
        # shielded: a caller that goes away does not cancel the lookup others may be waiting on
        found = await asyncio.shield(pending)
        return found if found is not None and hmac.compare_digest(found.hash, digest) else None

    def _may_look_up(self) -> bool:
        second = int(time.monotonic())
        if second != self._miss_second:
            self._miss_second, self._miss_count = second, 0
        if self._miss_count >= MISS_LOOKUPS_PER_SECOND:
            return False
        self._miss_count += 1
        return True

    async def _fetch(self, digest: str) -> KeyState | None:
        self.store_lookups += 1
        try:
            record = await asyncio.to_thread(self._store.get_key, digest)
        except Exception:  # a locked or unreachable store: refuse this once, remember nothing
            log.warning("looking up an API key in the store failed", exc_info=True)
            return None
        if record is None or record.deleted:
            if len(self._absent) >= ABSENT_MAX:
                self._absent.clear()
            self._absent.add(digest)
            return None
        self.apply([record], advance=False)
        return self._by_hash.get(digest)

    def get(self, key_hash: str) -> KeyState | None:
        return self._by_hash.get(key_hash)

    def hash(self, clear: str) -> str:
        return hash_key(self._secret, clear)


class AdminKeys:
    """Admin (management) keys: `TURNOUT_ADMIN_KEY`, and those `turnout admin-key` minted (hashes in a file)."""

    def __init__(self, data_dir: Path, secret: bytes, configured: str | None) -> None:
        self._path = data_dir / ADMIN_FILE
        self._secret = secret
        self._configured = hash_key(secret, configured) if configured else None
        self._hashes: list[str] = []
        self._mtime: tuple[int, int] | None = None
        self.refresh()

    def refresh(self) -> None:
        try:
            st = self._path.stat()
            mtime = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            self._hashes, self._mtime = [], None
            return
        if mtime != self._mtime:
            self._hashes = [h for h in self._path.read_text("ascii").split() if h]
            self._mtime = mtime

    def __bool__(self) -> bool:
        return bool(self._hashes) or self._configured is not None

    def is_admin(self, clear: str) -> bool:
        digest = hash_key(self._secret, clear)
        found = False
        for known in [*self._hashes, *([self._configured] if self._configured else [])]:
            found |= hmac.compare_digest(known, digest)  # no early exit: every candidate is compared
        return found


def create_admin_key(data_dir: Path, secret: bytes, *, replace: bool = False) -> str:
    """Mint an admin key, keep its hash in the data directory (0600), return the clear key (shown once)."""
    clear, _ = mint_key(ADMIN_PREFIX)
    path = data_dir / ADMIN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    old = "" if replace or not path.exists() else path.read_text("ascii")
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(old + hash_key(secret, clear) + "\n", "ascii")
    tmp.chmod(0o600)
    tmp.replace(path)
    return clear


def now() -> float:
    return time.time()
