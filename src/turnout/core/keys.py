"""API keys: minting, keyed hashing, and the in-memory cache the request path reads.

The clear key is shown once and never stored: the store keeps HMAC-SHA256(secret, key), where the
secret lives in the data directory. The request path never touches the database: keys are loaded
at start-up and refreshed from the store by a background task once a second, so a key created or
disabled by `turnout keys ...` in another process takes effect within about a second.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from turnout.store.base import KeyRecord, Store

KEY_PREFIX = "sk-tn-v1-"


def load_secret(data_dir: Path) -> bytes:
    """The server's hashing secret, made on first use (0600); every process on this data dir shares it."""
    path = data_dir / "key-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def mint_key() -> tuple[str, str]:
    """A new clear key and its display label (prefix and last characters only)."""
    key = KEY_PREFIX + secrets.token_hex(32)
    return key, f"{key[:12]}...{key[-3:]}"


@dataclass(slots=True)
class KeyState:
    hash: str
    name: str
    label: str
    limit: Decimal | None
    usage: Decimal  # persisted usage at load plus this process's spend since
    disabled: bool

    @property
    def remaining(self) -> Decimal | None:
        return None if self.limit is None else self.limit - self.usage


class KeyCache:
    def __init__(self, store: Store, secret: bytes) -> None:
        self._store = store
        self._secret = secret
        self._by_hash: dict[str, KeyState] = {}
        self._by_clear: dict[str, KeyState | None] = {}  # memo of hmac results, bounded
        self._seen_until = 0.0

    def load(self) -> None:
        """All keys, at start-up (a thread may call it; it only replaces dict entries)."""
        self.apply(self._store.list_keys())

    def refresh(self) -> None:
        """Keys created or changed since the last look (called from a worker thread)."""
        self.apply(self._store.keys_changed_since(self._seen_until - 2.0))

    def apply(self, records: list[KeyRecord]) -> None:
        for r in records:
            self._seen_until = max(self._seen_until, r.updated_at)
            known = self._by_hash.get(r.hash)
            if known is None:
                self._by_hash[r.hash] = KeyState(r.hash, r.name, r.label, r.limit, r.usage, r.disabled)
                self._by_clear.clear()  # a key unknown a moment ago may be known now
            else:
                known.disabled = r.disabled
                known.limit = r.limit
                known.name = r.name

    def lookup(self, clear: str) -> KeyState | None:
        state = self._by_clear.get(clear, False)
        if state is False:
            state = self._by_hash.get(hash_key(self._secret, clear))
            if len(self._by_clear) > 10_000:
                self._by_clear.clear()
            self._by_clear[clear] = state
        return state

    def spend(self, key_hash: str | None, cost: Decimal) -> None:
        if key_hash is not None and cost:
            state = self._by_hash.get(key_hash)
            if state is not None:
                state.usage += cost


def now() -> float:
    return time.time()
